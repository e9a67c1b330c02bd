"""gsplat's MCMCStrategy, runnable on any device.

gsplat's MCMC densification (Kheradmand et al., "3D Gaussian Splatting as Markov Chain
Monte Carlo") calls two CUDA-only kernels: the relocation of opacities/scales and the
covariance used to shape position noise. Here both are plain PyTorch; everything else
(when to relocate, how many to add, the noise schedule) is gsplat's strategy as is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from gsplat.strategy import MCMCStrategy

N_MAX = 51  # largest number of copies one splat is split into (gsplat's table size)


@functools.lru_cache(maxsize=2)
def _binomials(n_max: int) -> torch.Tensor:
    """Exact table C[n, r] = n choose r for 0 <= r <= n <= n_max, float64."""
    return torch.tensor([[math.comb(n, r) for r in range(n_max + 1)] for n in range(n_max + 1)],
                        dtype=torch.float64)


def relocation(
    opacities: torch.Tensor, scales: torch.Tensor, counts: torch.Tensor, n_max: int = N_MAX
) -> tuple[torch.Tensor, torch.Tensor]:
    """Opacity and scale for each of ``counts`` copies of a splat so that, stacked, they
    look like the original (the paper's Eq. 9).

    o' = 1 - (1 - o)^(1/n) keeps the composited opacity; the scale factor is
    o / sum_{i=1..n} sum_{k<i} C(i-1, k) (-1)^k o'^(k+1) / sqrt(k+1), and by the
    hockey-stick identity the double sum is sum_k C(n, k+1) (-1)^k o'^(k+1) / sqrt(k+1).
    Computed in float64: the alternating sum cancels badly in float32 for large n.
    """
    n = counts.clamp(1, n_max).to(torch.int64)
    o = opacities.to(torch.float64)
    new_o = 1 - (1 - o) ** (1 / n.to(torch.float64))
    k = torch.arange(n_max, dtype=torch.float64, device=o.device)
    table = _binomials(n_max).to(o.device)
    weights = table[n][:, 1:] * (-1) ** k / torch.sqrt(k + 1)  # C(n, k+1) (-1)^k / sqrt(k+1)
    powers = new_o[:, None] ** (k + 1)
    denominator = (weights * powers).sum(1)
    factor = o / denominator
    return new_o.to(opacities.dtype), scales * factor[:, None].to(scales.dtype)


def covariances(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """R S² Rᵀ from (unnormalised) w,x,y,z quaternions and linear scales."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    rot = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(*quats.shape[:-1], 3, 3)
    scaled = rot * scales[..., None, :]
    return scaled @ scaled.transpose(-1, -2)


def _edit_parameters(
    params: dict[str, torch.nn.Parameter],
    optimizers: dict[str, torch.optim.Optimizer],
    edit: Callable[[str, torch.Tensor], torch.Tensor],
    edit_state: Callable[[torch.Tensor], torch.Tensor],
) -> None:
    """Replace every parameter by ``edit(name, value)`` and keep its Adam state aligned."""
    for name, old in list(params.items()):
        new = torch.nn.Parameter(edit(name, old.data.clone()), requires_grad=old.requires_grad)
        optimizer = optimizers[name]
        for group in optimizer.param_groups:
            if group["params"][0] is not old:
                continue
            state = optimizer.state.pop(old, {})
            for key, value in state.items():
                if key != "step" and isinstance(value, torch.Tensor):
                    state[key] = edit_state(value)
            group["params"][0] = new
            optimizer.state[new] = state
        params[name] = new


class PortableMCMCStrategy(MCMCStrategy):
    """``gsplat.MCMCStrategy`` with its CUDA-only pieces replaced (see module docstring)."""

    def step_post_backward(  # type: ignore[override]
        self,
        params: dict[str, torch.nn.Parameter],
        optimizers: dict[str, torch.optim.Optimizer],
        state: dict[str, Any],
        step: int,
        info: dict[str, Any],
        lr: float,
    ) -> None:
        if self.refine_start_iter < step < self.refine_stop_iter and step % self.refine_every == 0:
            self._relocate_dead(params, optimizers)
            self._grow(params, optimizers)
        self._add_position_noise(params, lr * self.noise_lr)

    @torch.no_grad()
    def _relocate_dead(self, params, optimizers) -> int:
        opacities = torch.sigmoid(params["opacities"].flatten())
        dead = opacities <= self.min_opacity
        if not dead.any() or dead.all():
            return 0
        alive = (~dead).nonzero().squeeze(1)
        dead_ids = dead.nonzero().squeeze(1)
        sources = alive[torch.multinomial(opacities[alive], len(dead_ids), replacement=True)]
        self._split(params, optimizers, sources, targets=dead_ids)
        return len(dead_ids)

    @torch.no_grad()
    def _grow(self, params, optimizers) -> int:
        current = len(params["means"])
        extra = max(0, min(self.cap_max, int(1.05 * current)) - current)
        if extra == 0:
            return 0
        opacities = torch.sigmoid(params["opacities"].flatten())
        sources = torch.multinomial(opacities, extra, replacement=True)
        self._split(params, optimizers, sources, targets=None)
        return extra

    def _split(self, params, optimizers, sources: torch.Tensor, targets: torch.Tensor | None):
        """Each source splat becomes (copies + 1) smaller ones: itself, reshaped, and copies
        written over ``targets`` (dead splats) or appended (targets None)."""
        opacities = torch.sigmoid(params["opacities"].flatten())
        copies = torch.bincount(sources, minlength=len(opacities))[sources] + 1
        new_opacity, new_scale = relocation(opacities[sources],
                                            torch.exp(params["scales"][sources]), copies)
        new_opacity = new_opacity.clamp(self.min_opacity, 1 - torch.finfo(torch.float32).eps)

        def edit(name: str, value: torch.Tensor) -> torch.Tensor:
            if name == "opacities":
                value[sources] = torch.logit(new_opacity).reshape(value[sources].shape)
            elif name == "scales":
                value[sources] = torch.log(new_scale)
            if targets is None:
                return torch.cat([value, value[sources]])
            value[targets] = value[sources]
            return value

        def edit_state(moment: torch.Tensor) -> torch.Tensor:
            moment[sources] = 0
            if targets is None:
                return torch.cat([moment, torch.zeros_like(moment[sources])])
            return moment

        _edit_parameters(params, optimizers, edit, edit_state)

    @torch.no_grad()
    def _add_position_noise(self, params, scale: float) -> None:
        opacities = torch.sigmoid(params["opacities"].flatten())
        # only nearly transparent splats wander: a steep sigmoid of (1 - opacity)
        gate = torch.sigmoid(100 * ((1 - opacities) - 0.995))
        noise = torch.randn_like(params["means"]) * gate[:, None] * scale
        cov = covariances(params["quats"], torch.exp(params["scales"]))
        params["means"].add_(torch.einsum("nij,nj->ni", cov, noise))
