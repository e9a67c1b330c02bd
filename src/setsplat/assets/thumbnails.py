"""Three PNG thumbnails of a version, rendered with our renderer.

When the source came with its training cameras (``cameras.json``) we look through three
of them spread over the capture: that is what the set looks like from where it was
shot. Otherwise three views around the robust bounds: front, three-quarter from above,
and top-down. The most important splats (opacity × volume) are drawn, capped so a big
scene still renders in seconds on a CPU.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from setsplat.core.camera import Camera, read_cameras
from setsplat.core.fsutil import atomic_write
from setsplat.core.scene import GaussianScene

from .usd_asset import PreviewConfig, preview_scene

FOLDER = "thumbnails"
VIEW_NAMES = ("front", "three_quarter", "top")


@dataclass(frozen=True)
class ThumbnailConfig:
    width: int = 480
    height: int = 270
    fov_x_deg: float = 60.0
    max_splats: int = 300_000
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)


def orbit_cameras(scene: GaussianScene, config: ThumbnailConfig) -> list[Camera]:
    """Front, three-quarter and top views framing the splats' 1–99% bounds."""
    low, high = scene.bounds(percentile=1)
    centre = (low + high) / 2
    radius = max(float(np.linalg.norm(high - low)) / 2, 1e-6)
    basis = scene.frame.basis.T  # columns: the frame's right, up, forward in its own axes
    right, up, forward = basis[:, 0], basis[:, 1], basis[:, 2]
    fov_y = 2 * np.arctan(np.tan(np.radians(config.fov_x_deg) / 2) * config.height
                          / config.width)
    distance = radius / np.sin(min(np.radians(config.fov_x_deg), fov_y) / 2)
    directions = {  # from the centre towards the eye
        "front": -forward + 0.15 * up,
        "three_quarter": -forward + 0.8 * right + 0.7 * up,
        "top": up - 0.05 * forward,
    }
    cameras = []
    for name in VIEW_NAMES:
        direction = directions[name] / np.linalg.norm(directions[name])
        cameras.append(Camera.look_at(centre + distance * direction, centre, width=config.width,
                                      height=config.height, fov_x_deg=config.fov_x_deg,
                                      name=name, frame=scene.frame))
    return cameras


def capture_cameras(path: str | os.PathLike, config: ThumbnailConfig) -> list[Camera]:
    """Three training cameras spread over the capture, scaled to the thumbnail width."""
    cameras = [c for c in read_cameras(path) if c.is_pinhole]
    if len(cameras) < 3:
        return []
    picks = [cameras[i] for i in np.linspace(0, len(cameras) - 1, 3).round().astype(int)]
    return [c.scaled(config.width / c.width) for c in picks]


def renderer_available() -> bool:
    spec = importlib.util.find_spec("setsplat.render")
    return spec is not None and spec.origin is not None  # not a stray cache folder


def write(folder: str | os.PathLike, scene: GaussianScene,
          cameras: Sequence[Camera] | None = None,
          config: ThumbnailConfig = ThumbnailConfig()) -> list[Path]:
    """Render and write ``<folder>/<view>.png`` for three views; returns the paths."""
    from PIL import Image

    from setsplat.render import render_scene

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shown = preview_scene(scene, PreviewConfig(fraction=0.0, min_splats=config.max_splats,
                                               sh_degree=scene.sh_degree))
    views = list(cameras) if cameras else orbit_cameras(shown, config)
    outputs = render_scene(shown, views, background=config.background)
    paths = []
    for name, output in zip(VIEW_NAMES, outputs):
        rgb = output.rgb[0, ..., :3].clamp(0, 1).cpu().numpy()
        path = folder / f"{name}.png"
        with atomic_write(path) as f:
            Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(f, format="PNG")
        paths.append(path)
    return paths
