"""The viewer tests' trained scene: the tiny sample scan, trained once per session (see
``scan.py``: true cameras and surface points in place of SfM's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .scan import make_truth_capture

TRAIN_STEPS = 100


@pytest.fixture(scope="session")
def truth_capture(tmp_path_factory) -> Path:
    """A capture folder of the tiny sample scan whose ``sfm/`` is the truth."""
    return make_truth_capture(tmp_path_factory.mktemp("scan") / "tiny")


@pytest.fixture(scope="session")
def trained_scan(truth_capture) -> Path:
    """A training folder (``train/``, beside ``sfm/``) of the tiny sample scan."""
    from setsplat.reconstruct.train import TrainConfig, train_capture

    out = truth_capture / "train"
    train_capture(truth_capture, TrainConfig(steps=TRAIN_STEPS, init_opacity=0.5), out)
    return out
