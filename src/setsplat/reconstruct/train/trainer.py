"""The training loop: render, L1 + D-SSIM, backward, densify, Adam, checkpoint."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from setsplat.core.errors import SetsplatError
from setsplat.core.progress import progress
from setsplat.core.scene import GaussianScene
from setsplat.reconstruct.train import checkpoint
from setsplat.reconstruct.train.config import TrainConfig
from setsplat.reconstruct.train.data import View, Views
from setsplat.reconstruct.train.exposure import ColorTransforms
from setsplat.reconstruct.train.losses import photometric_loss, psnr
from setsplat.reconstruct.train.observers import StepReport, TrainObserver

PARAMS = ("means", "scales", "quats", "opacities", "sh0", "shN")


@dataclass
class TrainState:
    step: int = 0
    losses: list[float] = field(default_factory=list)
    psnrs: list[float] = field(default_factory=list)
    seconds: float = 0.0


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Owns the parameters, their optimizers and the densification strategy."""

    def __init__(self, config: TrainConfig, views: Views, initial: GaussianScene,
                 exposure_gains: list[list[float]] | None = None):
        """``exposure_gains``: each training photo's starting R, G, B gains; given, the
        photos get color transforms learned with the splats (exposure compensation)."""
        self.config = config
        self.views = views
        self.device = pick_device(config.device)
        self.extent = views.extent
        seed_everything(config.seed)
        self.order = torch.Generator().manual_seed(config.seed)
        full = initial.with_sh_degree(config.sh_degree)
        tensors = full.to_torch(self.device)
        self.params = {
            "means": tensors["means"], "scales": tensors["log_scales"],
            "quats": tensors["quats"], "opacities": tensors["opacity_logits"],
            "sh0": tensors["sh"][:, :1], "shN": tensors["sh"][:, 1:],
        }
        self.params = {k: torch.nn.Parameter(v.clone().contiguous()) for k, v in
                       self.params.items()}
        self.optimizers = self._optimizers()
        self.strategy = self._strategy()
        self.strategy_state = self._strategy_state()
        self.state = TrainState()
        self._queue: list[int] = []
        self._cameras = [self._camera_tensors(v) for v in views.train]
        self._images = [torch.from_numpy(v.image).to(self.device) for v in views.train]
        self._masks = [None if v.mask is None else torch.from_numpy(v.mask).to(self.device)
                       for v in views.train]
        self.colors = (None if exposure_gains is None else
                       ColorTransforms(exposure_gains, config.lr.exposure, self.device))

    # ----- set-up ----------------------------------------------------------------
    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        lr = self.config.lr
        rates = {"means": lr.means * self.extent, "scales": lr.scales, "quats": lr.quats,
                 "opacities": lr.opacities, "sh0": lr.sh0, "shN": lr.shN}
        # fused: one pass over each tensor; the default CPU Adam makes six, and at 300k
        # splats of SH 3 took a quarter of every step.
        return {name: torch.optim.Adam([{"params": [self.params[name]], "lr": rates[name],
                                         "name": name}], eps=1e-15, fused=True)
                for name in PARAMS}

    def _strategy(self):
        schedule = self.config.schedule
        if self.config.strategy == "mcmc":
            from setsplat.reconstruct.train.mcmc import PortableMCMCStrategy

            return PortableMCMCStrategy(cap_max=self.config.max_splats,
                                        refine_start_iter=schedule["refine_start"],
                                        refine_stop_iter=schedule["refine_stop"],
                                        refine_every=self.config.refine_every)
        from gsplat.strategy import DefaultStrategy

        return DefaultStrategy(refine_start_iter=schedule["refine_start"],
                               refine_stop_iter=schedule["refine_stop"],
                               refine_every=self.config.refine_every,
                               reset_every=schedule["reset_every"],
                               grow_grad2d=self.config.grow_grad2d,
                               absgrad=False, verbose=False)

    def _strategy_state(self) -> dict[str, Any]:
        if self.config.strategy == "mcmc":
            return self.strategy.initialize_state()
        return self.strategy.initialize_state(scene_scale=self.extent)

    def _camera_tensors(self, view: View) -> tuple[torch.Tensor, torch.Tensor]:
        cam = view.camera
        viewmat = torch.tensor(cam.world_to_camera, dtype=torch.float32, device=self.device)
        k = torch.tensor(cam.K, dtype=torch.float32, device=self.device)
        return viewmat[None], k[None]

    # ----- the loop ----------------------------------------------------------------
    @property
    def sh_degree_now(self) -> int:
        return min(self.config.sh_degree, self.state.step // self.config.schedule["sh_interval"])

    def _next_view(self) -> int:
        if not self._queue:
            self._queue = torch.randperm(len(self._cameras), generator=self.order).tolist()
        return self._queue.pop()

    def render(self, viewmat: torch.Tensor, k: torch.Tensor, width: int, height: int,
               sh_degree: int, background: torch.Tensor | None = None):
        from setsplat.render import rasterize

        p = self.params
        return rasterize(
            means=p["means"], quats=p["quats"], scales=torch.exp(p["scales"]),
            opacities=torch.sigmoid(p["opacities"]), colors=torch.cat([p["sh0"], p["shN"]], 1),
            viewmats=viewmat, Ks=k, width=width, height=height, sh_degree=sh_degree,
            backgrounds=background, antialiased=self.config.antialiased,
            backend=self.config.backend,
        )

    def step(self) -> float:
        config = self.config
        index = self._next_view()
        viewmat, k = self._cameras[index]
        truth, mask = self._images[index], self._masks[index]
        height, width = truth.shape[:2]
        background = torch.rand(1, 3, device=self.device) if config.random_background else None
        out = self.render(viewmat, k, width, height, self.sh_degree_now, background)
        image = out.rgb[0]
        if self.colors is not None:
            image = self.colors.apply(index, image)
        loss = photometric_loss(image, truth, config.ssim_weight, mask)
        if config.strategy == "mcmc":
            loss = (loss + 0.01 * torch.sigmoid(self.params["opacities"]).mean()
                    + 0.01 * torch.exp(self.params["scales"]).mean())
        self.strategy.step_pre_backward(self.params, self.optimizers, self.strategy_state,
                                        self.state.step, out.info)
        loss.backward()
        means_lr = self._means_lr()
        if config.strategy == "mcmc":
            self.strategy.step_post_backward(self.params, self.optimizers, self.strategy_state,
                                             self.state.step, out.info, lr=means_lr)
        else:
            self.strategy.step_post_backward(self.params, self.optimizers, self.strategy_state,
                                             self.state.step, out.info, packed=False)
        for optimizer in self.optimizers.values():
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if self.colors is not None:
            self.colors.step(index)
        for group in self.optimizers["means"].param_groups:
            group["lr"] = means_lr
        self._cap_splats()
        value = float(loss.item())
        self.state.losses.append(value)
        self.state.psnrs.append(psnr(image.detach(), truth, mask))
        self.state.step += 1
        return value

    def _means_lr(self) -> float:
        """Exponential decay from lr.means to lr.means_final over the run, × scene extent."""
        lr = self.config.lr
        t = min(1.0, self.state.step / max(1, self.config.steps))
        return self.extent * math.exp((1 - t) * math.log(lr.means) + t * math.log(lr.means_final))

    @torch.no_grad()
    def _cap_splats(self) -> None:
        """The default strategy has no budget: beyond ``max_splats``, drop the faintest."""
        excess = len(self.params["means"]) - self.config.max_splats
        if excess <= 0 or self.config.strategy == "mcmc":
            return
        from gsplat.strategy.ops import remove

        faintest = torch.topk(self.params["opacities"].flatten(), excess, largest=False).indices
        mask = torch.zeros(len(self.params["means"]), dtype=torch.bool, device=self.device)
        mask[faintest] = True
        remove(self.params, self.optimizers, self.strategy_state, mask)

    def train(self, checkpoint_dir: Path | None = None,
              observers: Sequence[TrainObserver] = ()) -> TrainState:
        config = self.config
        started = time.perf_counter() - self.state.seconds
        with progress("training", total=config.steps) as advance:
            advance(self.state.step)
            while self.state.step < config.steps:
                loss = self.step()
                fields = {}
                if self.state.step % 10 == 0:
                    recent = self.state.psnrs[-10:]
                    fields = {"loss": loss, "psnr": sum(recent) / len(recent),
                              "splats": len(self.params["means"])}
                advance(1, **fields)
                self.state.seconds = time.perf_counter() - started
                self._report(observers, loss)
                if checkpoint_dir and (self.state.step % config.checkpoint_every == 0
                                       or self.state.step == config.steps):
                    self.save_checkpoint(checkpoint_dir / checkpoint.FILE)
        return self.state

    def _report(self, observers: Sequence[TrainObserver], loss: float) -> None:
        if not observers:
            return
        report = StepReport(self.state.step, self.config.steps, loss, self.state.psnrs[-1],
                            len(self.params["means"]), self.scene)
        for observer in observers:
            observer(report)

    # ----- results and checkpoints -------------------------------------------------------
    def scene(self) -> GaussianScene:
        p = {k: v.detach() for k, v in self.params.items()}
        return GaussianScene.from_torch({
            "means": p["means"], "quats": p["quats"], "log_scales": p["scales"],
            "opacity_logits": p["opacities"], "sh": torch.cat([p["sh0"], p["shN"]], 1),
        }, frame=self.views.train[0].camera.frame)

    def save_checkpoint(self, path: Path) -> None:
        payload = {
            "step": self.state.step, "losses": self.state.losses, "psnrs": self.state.psnrs,
            "seconds": self.state.seconds,
            "params": {k: v.detach().cpu() for k, v in self.params.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "strategy_state": {k: v.cpu() if isinstance(v, torch.Tensor) else v
                               for k, v in self.strategy_state.items()},
            "order": self.order.get_state(), "queue": self._queue,
            "torch_rng": torch.get_rng_state(), "config": self.config.to_dict(),
            "colors": None if self.colors is None else self.colors.state_dict(),
        }
        checkpoint.save(path, payload)

    def load_checkpoint(self, path: Path) -> None:
        """Continue from a checkpoint (tensors and plain data only: see checkpoint.py)."""
        payload = checkpoint.load(path, self.device)
        try:
            self._restore(payload)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
            raise SetsplatError(f"the checkpoint does not fit this training run ({exc})",
                                "train again without --resume", path) from None

    def _restore(self, payload: dict[str, Any]) -> None:
        shapes = {k: tuple(v.shape[1:]) for k, v in payload["params"].items()}
        if shapes != {k: tuple(v.shape[1:]) for k, v in self.params.items()}:
            raise ValueError(f"its parameters have shapes {shapes}")
        self.params = {k: torch.nn.Parameter(v.to(self.device)) for k, v in
                       payload["params"].items()}
        self.optimizers = self._optimizers()
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(payload["optimizers"][name])
        self.strategy_state = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v
                               for k, v in payload["strategy_state"].items()}
        self.order.set_state(payload["order"].cpu())
        self._queue = list(payload["queue"])
        torch.set_rng_state(payload["torch_rng"].cpu())
        if self.colors is not None and payload.get("colors"):
            self.colors.load_state_dict(payload["colors"])
        self.state = TrainState(int(payload["step"]), [float(v) for v in payload["losses"]],
                                [float(v) for v in payload["psnrs"]], float(payload["seconds"]))
