"""Reconstruction: camera poses and the splat scene.

- ``run_sfm(capture, out, SfmOptions(...))``: poses and sparse points with pycolmap,
  upright and at metric scale where markers or a distance allow;
- ``import_poses(source, out)``: the same outputs from a COLMAP model or a
  transforms.json made elsewhere;
- ``train_capture(sfm, TrainConfig(...), out)`` (in ``reconstruct.train``): the splats.
"""

from setsplat.reconstruct.sfm import SfmOptions, import_poses, parse_intrinsics, run_sfm
from setsplat.reconstruct.train import TrainConfig

__all__ = ["SfmOptions", "TrainConfig", "import_poses", "parse_intrinsics", "run_sfm"]
