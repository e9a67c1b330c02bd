"""Exposure compensation: a color transform per training photo, learned with the splats.

Auto exposure, a cloud or an opened door changes how bright and how warm a photo came
out. Without a place to put that, training bakes it into the splats as view-dependent
color (and fog). Each training photo gets an affine map of the rendered RGB,
``photo = A · render + b`` (12 numbers, identity to start, or the gains SfM measured
from its tracks), applied before the loss; the splats keep one shared appearance.

A held-out photo has no learned transform. It is evaluated the standard way for such
models: the splats frozen, its own transform fitted on that photo alone (least squares,
closed form), then PSNR and SSIM of the transformed render, reported beside the plain
ones.
"""

from __future__ import annotations

from typing import Any

import torch


def apply_color(image: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
    """``image`` (..., 3) through the affine ``transform`` (3, 4): A · rgb + b."""
    return image @ transform[:, :3].T + transform[:, 3]


class ColorTransforms:
    """One transform per training photo, each with its own Adam: a photo's transform moves
    only on the steps that render that photo."""

    def __init__(self, gains: list[list[float]], lr: float, device: torch.device):
        self.params = [torch.nn.Parameter(torch.cat([torch.diag(torch.tensor(g)),
                                                     torch.zeros(3, 1)], 1).to(device))
                       for g in gains]
        self.optimizers = [torch.optim.Adam([p], lr=lr, eps=1e-15) for p in self.params]

    def apply(self, index: int, image: torch.Tensor) -> torch.Tensor:
        return apply_color(image, self.params[index])

    def step(self, index: int) -> None:
        self.optimizers[index].step()
        self.optimizers[index].zero_grad(set_to_none=True)

    def state_dict(self) -> dict[str, Any]:
        return {"params": [p.detach().cpu() for p in self.params],
                "optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for param, saved in zip(self.params, state["params"]):
                param.copy_(saved)
        for optimizer, saved in zip(self.optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)

    def to_list(self) -> list[list[list[float]]]:
        return [p.detach().cpu().numpy().round(5).tolist() for p in self.params]


def fit_color(render: torch.Tensor, truth: torch.Tensor,
              weights: torch.Tensor | None = None) -> torch.Tensor:
    """The affine transform (3, 4) that takes ``render`` closest to ``truth`` (H, W, 3) in
    least squares, over the pixels ``weights`` (H, W) keep."""
    x = torch.cat([render.reshape(-1, 3), torch.ones(render[..., :1].numel(), 1)], 1)
    y = truth.reshape(-1, 3)
    if weights is not None:
        w = weights.reshape(-1, 1).sqrt()
        x, y = x * w, y * w
    solution = torch.linalg.lstsq(x.double(), y.double()).solution  # (4, 3)
    return solution.T.to(render.dtype)


def gains_from_offsets(names: list[str], offsets: dict[str, list[float]]) -> list[list[float]]:
    """Starting gains per photo from SfM's offsets in stops (1 where it measured none)."""
    return [[2.0 ** v for v in offsets.get(name, [0.0, 0.0, 0.0])] for name in names]
