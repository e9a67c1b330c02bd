"""The proxy mesh of a splat scene (open3d): for collision, layout and shadows, used
by asset publishing and by exports alike.

``build_proxy(scene, MeshOptions(...), cameras)`` builds it; ``write_glb``,
``write_obj``, ``write_usd`` store it and ``read_glb``, ``read_usd_prim`` read it back.
"""

from setsplat.mesh.codecs import read_glb, read_usd_prim, write_glb, write_obj, write_usd
from setsplat.mesh.proxy import MeshOptions, ProxyMesh, build_proxy, import_open3d

__all__ = ["MeshOptions", "ProxyMesh", "build_proxy", "import_open3d", "read_glb",
           "read_usd_prim", "write_glb", "write_obj", "write_usd"]
