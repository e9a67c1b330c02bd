"""The design's test for frames: render the scene, and the scene after export → import
with the camera converted into the imported scene's frame: the images must match
(PSNR ≥ 50 dB for the lossless formats; the quantised ones get their own bound)."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core.camera import Camera
from setsplat.core.frames import FRAMES
from setsplat.core.io import read_scene
from setsplat.export.targets import ExportOptions, export

render = pytest.importorskip("setsplat.render")

CAMERAS = [Camera.look_at([0.3, 0.1, -1.2], [-0.3, 0.4, 1.5], width=96, height=72,
                          fov_x_deg=75, name="a"),
           Camera.look_at([-0.5, -0.2, -0.8], [0.2, 0.6, 1.8], width=96, height=72,
                          fov_x_deg=60, name="b")]


def images(scene) -> list[np.ndarray]:
    return [o.rgb[0].numpy() for o in render.render_scene(scene, CAMERAS)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


@pytest.fixture(scope="module")
def original():
    from tests.export.conftest import room_corner

    scene = room_corner(1500, degree=3)
    return scene, images(scene)


@pytest.mark.parametrize("frame", sorted(FRAMES))
def test_ply_in_every_frame_renders_the_same(tmp_path, original, frame):
    scene, reference = original
    export("ply", scene, tmp_path, ExportOptions(frame=frame, name="s"))
    back = read_scene(tmp_path / "s.ply")
    assert back.frame.name == frame
    for a, b in zip(images(back), reference):
        assert psnr(a, b) >= 50


@pytest.mark.parametrize("target, file, floor", [
    ("gltf", "s.glb", 50.0),   # lossless (float32)
    ("unity", "s.ply", 50.0),  # the engine PLY, in Unity's frame
    ("unreal", "s.ply", 50.0),
    ("spz", "s.spz", 35.0),    # quantised
    ("splat", "s.splat", 25.0),  # SH degree 0 only and 8-bit color
])
def test_targets_render_the_same(tmp_path, original, target, file, floor):
    scene, reference = original
    export(target, scene, tmp_path, ExportOptions(name="s", proxy=False))
    back = read_scene(tmp_path / file)
    values = [psnr(a, b) for a, b in zip(images(back), reference)]
    assert min(values) >= floor, values
