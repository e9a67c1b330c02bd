"""A capture whose truth we know: a fixture scene rendered by our renderer, with its
cameras and noisy centres as "SfM" points, laid out as `reconstruct sfm` leaves it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from make_fixtures import room_corner


def write_point_cloud(path: Path, points: np.ndarray, colors: np.ndarray) -> None:
    table = np.zeros(len(points), [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"),
                                   ("green", "u1"), ("blue", "u1")])
    for i, name in enumerate("xyz"):
        table[name] = points[:, i]
    for i, name in enumerate(("red", "green", "blue")):
        table[name] = np.round(colors[:, i] * 255)
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(points)}\n"
              + "".join(f"property float {c}\n" for c in "xyz")
              + "".join(f"property uchar {c}\n" for c in ("red", "green", "blue"))
              + "end_header\n")
    path.write_bytes(header.encode() + table.tobytes())


def make_known_capture(root: Path, views: int = 12, width: int = 64, height: int = 48) -> Path:
    from setsplat.core.camera import Camera, write_cameras
    from setsplat.reconstruct.train.evaluate import save_png
    from setsplat.render import render_scene

    scene = room_corner()
    cameras = []
    for i in range(views):
        angle = np.pi * (1.1 + 0.5 * i / views)
        eye = [1.5 * np.cos(angle) + 0.3, -0.3 - 0.4 * (i % 2), 1.5 * np.sin(angle) - 0.3]
        cameras.append(Camera.look_at(eye, [-0.5, 0.3, 0.8], width=width, height=height,
                                      fov_x_deg=80, name=f"view_{i:03d}.png"))
    (root / "sfm" / "images").mkdir(parents=True)
    for camera, out in zip(cameras, render_scene(scene, cameras)):
        save_png(root / "sfm" / "images" / camera.name, out.rgb[0].numpy())
    write_cameras(root / "sfm" / "cameras.json", cameras)
    rng = np.random.default_rng(0)
    picked = slice(None, None, 3)
    points = scene.means[picked] + rng.normal(scale=0.05, size=scene.means[picked].shape)
    write_point_cloud(root / "sfm" / "points.ply", points, scene.colors[picked])
    return root


@pytest.fixture(scope="session")
def known_capture(tmp_path_factory) -> Path:
    return make_known_capture(tmp_path_factory.mktemp("known") / "capture")
