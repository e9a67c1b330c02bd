"""Who watches training: each step's numbers and, on request, the current splats.

Kept apart from the loop so a viewer or dashboard can name these types without loading
torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from setsplat.core.scene import GaussianScene


@dataclass(frozen=True)
class StepReport:
    """What an observer of training hears after each step. ``scene`` builds the current
    splats as a GaussianScene only when called (a copy of every parameter)."""

    step: int
    steps: int
    loss: float
    psnr: float
    splats: int
    scene: Callable[[], GaussianScene]


# Called after every step, in the training thread: keep it quick (a live viewer pushes
# the splats every few seconds, not every step).
TrainObserver = Callable[[StepReport], None]
