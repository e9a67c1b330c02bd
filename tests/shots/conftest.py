"""A set built to be known: a checkered wall at z = -3 m and a floor at y = 0 (Y-up
metres), published into a fresh library with two scan cameras beside it."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core.camera import Camera, write_cameras
from setsplat.core.frames import convert_scene, convert_world_to_camera
from setsplat.core.io import ply
from setsplat.core.progress import set_quiet
from setsplat.core.scene import GaussianScene
from setsplat.core.sh import rgb_to_dc

WALL_Z = -3.0
WALL_X = (-2.0, 2.0)
WALL_TOP = 2.5
FLOOR_Z = (WALL_Z, 1.0)
STEP = 0.05
SPLAT_SIGMA = 0.7 * STEP  # in the plane of the wall and the floor


def _cells(low: float, high: float) -> np.ndarray:
    return np.arange(low + STEP / 2, high, STEP)


def known_set() -> GaussianScene:
    """Flat, nearly opaque splats on a 5 cm grid: the wall facing +z, the floor facing up."""
    xs = _cells(*WALL_X)
    wall = np.array([[x, y, WALL_Z] for x in xs for y in _cells(0.0, WALL_TOP)])
    floor = np.array([[x, 0.0, z] for x in xs for z in _cells(*FLOOR_Z)])
    means = np.concatenate([wall, floor])
    thin, wide = np.log(0.002), np.log(SPLAT_SIGMA)
    log_scales = np.concatenate([np.tile([wide, wide, thin], (len(wall), 1)),
                                 np.tile([wide, thin, wide], (len(floor), 1))])
    checker = np.floor(means / 0.5).sum(1) % 2
    rgb = np.stack([0.2 + 0.6 * checker, 0.3 + 0.2 * means[:, 1] / WALL_TOP,
                    0.5 - 0.3 * checker], 1)
    n = len(means)
    return GaussianScene(means=means, quats=np.tile([1.0, 0, 0, 0], (n, 1)),
                         log_scales=log_scales, opacity_logits=np.full(n, 6.0),
                         sh=rgb_to_dc(rgb)[:, None, :], frame="yup")


def scan_cameras() -> list[Camera]:
    """Two 'photos' of the set, in the training frame (rdf) as SfM writes them."""
    cameras = []
    for name, eye, target, fov in (("IMG_0001.jpg", [-1.0, 1.5, 0.5], [0.0, 1.0, -3.0], 70),
                                   ("IMG_0002.jpg", [0.8, 1.3, -0.5], [0.5, 0.8, -3.0], 50)):
        yup = Camera.look_at(eye, target, width=320, height=240, fov_x_deg=fov, frame="yup")
        cameras.append(Camera(yup.width, yup.height, yup.fx, yup.fy, yup.cx, yup.cy,
                              convert_world_to_camera(yup.world_to_camera, "yup", "rdf"),
                              name=name, frame="rdf"))
    return cameras


@pytest.fixture(autouse=True)
def _quiet():
    set_quiet(True)
    yield
    set_quiet(False)


@pytest.fixture(scope="module")
def set_source(tmp_path_factory):
    """scene.ply (rdf, as training writes it) with cameras.json beside it."""
    folder = tmp_path_factory.mktemp("scan")
    ply.write(folder / "scene.ply", convert_scene(known_set(), "rdf"))
    write_cameras(folder / "cameras.json", scan_cameras())
    return folder


@pytest.fixture
def lib(tmp_path, monkeypatch, set_source):
    """An empty library in $SETSPLAT_LIBRARY, the known set published as Set_Test@1."""
    from setsplat.assets import PublishOptions, publish

    root = tmp_path / "lib"
    monkeypatch.setenv("SETSPLAT_LIBRARY", str(root))
    publish(set_source, PublishOptions(name="Set_Test", thumbnails=False,
                                       description="A test room: checkered wall and floor"))
    return root
