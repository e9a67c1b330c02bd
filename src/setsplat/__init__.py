"""setsplat: photo scans of film sets to Gaussian splat scenes, USD assets and exports.

The library is usable on its own; the ``setsplat`` CLI is a thin skin over it::

    from setsplat import GaussianScene, read_scene, write_scene, convert_scene
"""

import os

# Our parallel kernels run on numba's OpenMP layer. Its default, TBB, is probed first,
# and after open3d (the proxy mesh) has loaded its own older libtbb the probe prints a
# warning on every command; a user's own setting still wins.
os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp tbb workqueue")
# Intel MKL (torch's CPU BLAS) picks a code path by how each array happens to be aligned,
# so one training step could round differently from one process to the next, and a run
# resumed from its checkpoint did not always match one never stopped. MKL's compatible
# branch is the same in every process; training measured no slower on it. It must be set
# before torch loads MKL, hence here.
os.environ.setdefault("MKL_CBWR", "COMPATIBLE")

from setsplat.core.camera import Camera, read_cameras, write_cameras
from setsplat.core.errors import SetsplatError, StageFailed
from setsplat.core.frames import FRAMES, Frame, convert_scene, get_frame
from setsplat.core.io import read_scene, write_scene
from setsplat.core.scene import GaussianScene

__version__ = "0.1.0"

__all__ = [
    "FRAMES",
    "Camera",
    "Frame",
    "GaussianScene",
    "SetsplatError",
    "StageFailed",
    "__version__",
    "convert_scene",
    "get_frame",
    "read_cameras",
    "read_scene",
    "write_cameras",
    "write_scene",
]
