"""3DGS training: config, views, loop, strategies, evaluation, floaters.

The config is importable without torch (the CLI builds its options from it);
``train_capture`` loads torch when it is first asked for.
"""

from typing import Any

from setsplat.reconstruct.train.config import LearningRates, TrainConfig
from setsplat.reconstruct.train.observers import StepReport, TrainObserver

__all__ = ["LearningRates", "StepReport", "TrainConfig", "TrainObserver", "train_capture"]


def __getattr__(name: str) -> Any:
    if name == "train_capture":
        from setsplat.reconstruct.train.job import train_capture

        return train_capture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
