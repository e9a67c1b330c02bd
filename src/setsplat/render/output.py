"""What a rasterizer returns: the one type every backend produces and callers read.

It lives alone, below the backends and ``render.api`` that chooses among them, so that
no backend has to import the module that imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class RenderOutput:
    """Images for C cameras, and what densification needs.

    ``info`` follows gsplat's ``rasterization`` meta dict (``means2d`` (C,N,2) with a
    gradient after backward, ``radii`` (C,N,2), ``width``, ``height``, ``n_cameras``,
    ``gaussian_ids`` None as unpacked), so gsplat's strategies accept it as is.
    """

    rgb: torch.Tensor  # (C, H, W, D): colors composited over the background
    alpha: torch.Tensor  # (C, H, W, 1)
    depth: torch.Tensor  # (C, H, W, 1): expected depth (z), 0 where nothing was hit
    median_depth: torch.Tensor | None  # (C, H, W, 1): depth where T first reaches 0.5
    info: dict[str, Any] = field(default_factory=dict)
    backend: str = "cpu"

    @property
    def means2d(self) -> torch.Tensor:
        return self.info["means2d"]

    @property
    def radii(self) -> torch.Tensor:
        return self.info["radii"]

    @property
    def visibility(self) -> torch.Tensor:
        """(C, N) bool: the splat touches the image of that camera."""
        return (self.info["radii"] > 0).all(-1)
