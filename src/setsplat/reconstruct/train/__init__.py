"""3DGS training: config, views, loop, strategies, evaluation, floaters."""

from setsplat.reconstruct.train.config import LearningRates, TrainConfig
from setsplat.reconstruct.train.run import train_capture

__all__ = ["LearningRates", "TrainConfig", "train_capture"]
