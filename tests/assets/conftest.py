"""Asset fixtures: a small PLY to publish and an empty library."""

from __future__ import annotations

import pytest

from setsplat.assets import Library
from setsplat.core.io import ply
from setsplat.core.progress import set_quiet


@pytest.fixture(autouse=True)
def _quiet():
    set_quiet(True)
    yield
    set_quiet(False)


@pytest.fixture
def library(tmp_path) -> Library:
    return Library.resolve(tmp_path / "library")


@pytest.fixture
def small_ply(tmp_path, scene_factory):
    scene = scene_factory(3000, degree=3, seed=11)
    path = tmp_path / "scene.ply"
    ply.write(path, scene)
    return path, scene
