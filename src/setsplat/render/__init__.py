"""Rasterization of Gaussian splats behind one function, on CPU (ours) or CUDA (gsplat).

``rasterize`` takes activated splat tensors and cameras; ``render_scene`` takes a
``GaussianScene`` and ``Camera`` objects. Importing this package loads torch.
"""

from setsplat.render.api import BACKENDS, rasterize
from setsplat.render.output import RenderOutput
from setsplat.render.render_scene import render_scene

__all__ = ["BACKENDS", "RenderOutput", "rasterize", "render_scene"]
