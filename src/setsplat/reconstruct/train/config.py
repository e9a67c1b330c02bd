"""One dataclass drives a training run; it is saved beside the outputs (config.json)
so that any result can be reproduced with ``--config``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from setsplat.core.errors import SetsplatError
from setsplat.core.jsonio import write_json
from setsplat.core.settings import option_of, setting

STRATEGIES = ("default", "mcmc")
INITS = ("sfm", "random")
DEVICES = ("auto", "cpu", "cuda")
EXPOSURE_MODES = ("auto", "on", "off")


@dataclass
class LearningRates:
    """Adam rates of the 3DGS paper; ``means`` decays exponentially to ``means_final``,
    both multiplied by the scene extent."""

    means: float = 1.6e-4
    means_final: float = 1.6e-6
    quats: float = 1e-3
    scales: float = 5e-3
    opacities: float = 5e-2
    sh0: float = 2.5e-3
    shN: float = 2.5e-3 / 20  # gsplat names the SH-rest parameter "shN"
    exposure: float = 5e-3  # each photo's color transform (its own Adam)


@dataclass
class TrainConfig:
    steps: int = setting(3000, "Optimisation steps.")
    downscale: int = setting(1, "Train on images shrunk by this factor (2 = half size).",
                             flag="--resolution")
    eval_every: int = setting(8, "Hold out every Nth image for evaluation (0: none).")
    seed: int = setting(0, "Random seed.")
    sh_degree: int = setting(3, "Final spherical-harmonics degree (0-3).")
    sh_degree_interval: int | None = None  # steps per SH band; None: steps // 10
    ssim_weight: float = 0.2
    strategy: str = setting("default", "Densification: 3DGS default or MCMC.",
                            choices=STRATEGIES)
    max_splats: int = setting(300_000, "Splat budget.")
    init: str = setting("sfm", "Initial splats: the SfM points, or random in the camera "
                        "bounds.", choices=INITS)
    init_random_count: int = 20_000
    init_opacity: float = 0.1
    refine_start: int | None = None  # None: derived from steps (see ``schedule``)
    refine_stop: int | None = None
    refine_every: int = 100
    reset_every: int | None = None
    grow_grad2d: float = 0.0002
    antialiased: bool = setting(False, "Anti-aliased (mip-filtered) splats, for scenes "
                                "viewed at many distances.")
    random_background: bool = False
    checkpoint_every: int = setting(500, "Steps between checkpoints.")
    backend: str = setting("auto", "Renderer backend.", choices=DEVICES)
    device: str = setting("auto", "Device to train on.", choices=DEVICES)
    remove_floaters: bool = True
    # share of the box of the SfM points (1-99%) and the cameras added on each side; 0.1
    # cut opaque background splats that held-out views show (-0.5 dB on the stage scan),
    # 0.5 only far junk
    floater_margin: float = 0.5
    # a splat no photo holds the centre of goes when its footprint's radius passes this
    # share of an image's size (see floaters.unseen_and_grazed); 0.25 also cut splats
    # that the stage's held-out views show (-0.5 dB in one)
    graze_share: float = 0.5
    exposure_compensation: str = setting(
        "auto", "A color transform per photo learned with the splats (auto exposure, "
        "white-balance drift); auto: on when SfM found the photos' exposure varies.",
        choices=EXPOSURE_MODES)
    lr: LearningRates = field(default_factory=LearningRates)

    def __post_init__(self) -> None:
        if isinstance(self.lr, dict):
            self.lr = LearningRates(**self.lr)
        problems = []
        if self.steps < 1:
            problems.append(f"steps must be at least 1{option_of(TrainConfig, 'steps')}")
        if self.downscale < 1:
            problems.append("the downscale factor must be at least 1"
                            f"{option_of(TrainConfig, 'downscale')}")
        if not 0 <= self.sh_degree <= 3:
            problems.append(f"sh_degree must be 0..3{option_of(TrainConfig, 'sh_degree')}")
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}")
        if self.exposure_compensation not in EXPOSURE_MODES:
            problems.append(f"exposure_compensation must be one of {', '.join(EXPOSURE_MODES)}")
        if self.init not in INITS:
            problems.append(f"init must be one of {', '.join(INITS)}")
        if self.backend not in DEVICES or self.device not in DEVICES:
            problems.append(f"backend and device must be one of {', '.join(DEVICES)}")
        if self.max_splats < 1:
            problems.append(f"max_splats must be positive{option_of(TrainConfig, 'max_splats')}")
        if self.graze_share <= 0:
            problems.append("graze_share must be positive")
        if self.eval_every < 0 or self.eval_every == 1:
            problems.append("eval_every must be 0 (no held-out views) or at least 2"
                            f"{option_of(TrainConfig, 'eval_every')}")
        if problems:
            raise SetsplatError("invalid training config: " + "; ".join(problems),
                                "fix the option or the config file")

    # Densification windows scaled to the run length (3DGS uses 500..15000 of 30000).
    # Opacity resets every sixth of the run: two to three inside the densification
    # window, each pruning the faint and the oversized splats (the smears that sparse
    # views leave on floors).
    @property
    def schedule(self) -> dict[str, int]:
        start = self.refine_start if self.refine_start is not None else min(500, self.steps // 15)
        stop = self.refine_stop if self.refine_stop is not None else self.steps // 2
        reset = self.reset_every if self.reset_every is not None else max(100, self.steps // 6)
        interval = self.sh_degree_interval or max(1, self.steps // 10)
        return {"refine_start": start, "refine_stop": stop, "reset_every": reset,
                "sh_interval": interval}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise SetsplatError("no such config file", "check the path", path) from None
        except (OSError, ValueError) as exc:
            raise SetsplatError(f"cannot read the config ({exc})",
                                "give a config.json written by setsplat", path) from None
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SetsplatError(f"unknown config keys {', '.join(unknown)}",
                                "remove them (a newer setsplat may have written this file)",
                                path)
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**data)
        except TypeError as exc:
            raise SetsplatError(f"bad config ({exc})", "fix the file", path) from None
