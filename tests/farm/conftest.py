"""The farm's engine for its tests: one Ray cluster (a head and two worker nodes of one
core each) for the session, on this machine's loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engines import RayCluster, environment, ray_environment

TINY = Path(__file__).resolve().parents[2] / "sample_scans" / "tiny"


@pytest.fixture(scope="session")
def ray_env() -> Iterator[dict[str, str]]:
    """The Ray settings this process shares with the cluster (token, no usage reports)."""
    values = ray_environment()
    with environment(values):
        yield values


@pytest.fixture(scope="session")
def ray_cluster(ray_env) -> Iterator[RayCluster]:
    cluster = RayCluster(ray_env)
    try:
        yield cluster.start(workers=2, cpus=1)
    finally:
        cluster.stop()


@pytest.fixture
def tiny_captures(tmp_path) -> callable:
    """``make(*names)``: copies of the tiny sample scan's photos, one folder each."""

    def make(*names: str) -> list[Path]:
        folders = []
        for name in names:
            folder = tmp_path / "captures" / name
            shutil.copytree(TINY / "images", folder)
            folders.append(folder)
        return folders

    return make
