"""3DGS training: config, views, loop, strategies, evaluation, floaters."""

from setsplat.reconstruct.train.config import LearningRates, TrainConfig
from setsplat.reconstruct.train.run import train_capture
from setsplat.reconstruct.train.trainer import StepReport, TrainObserver

__all__ = ["LearningRates", "StepReport", "TrainConfig", "TrainObserver", "train_capture"]
