"""Rendered views to files: 8-bit PNG color; depth as 16-bit PNG or float EXR, with a
JSON beside it saying what a pixel value means."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import atomic_write, staged_folder
from setsplat.core.jsonio import write_json
from setsplat.core.progress import progress
from setsplat.core.scene import GaussianScene
from setsplat.render.output import RenderOutput

DEPTH_KINDS = ("expected", "median", "none")
DEPTH_FORMATS = ("png16", "exr")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def view_names(names: list[str]) -> list[str]:
    """File-safe, unique stems for views (``view_0003`` where a camera has no name)."""
    stems, seen = [], set()
    for index, name in enumerate(names):
        stem = _UNSAFE.sub("_", Path(name).stem).strip("._") or f"view_{index:04d}"
        base, n = stem, 1
        while stem in seen:
            n += 1
            stem = f"{base}_{n}"
        seen.add(stem)
        stems.append(stem)
    return stems


def _png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    with atomic_write(path) as f:
        Image.fromarray(pixels).save(f, format="PNG")


def write_exr(path: Path, channels: dict[str, np.ndarray]) -> None:
    """Float channels as a ZIP-compressed scanline EXR that appears whole or not at all."""
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with atomic_write(path) as f:
        OpenEXR.File(header, channels).write(f)


def _hits(depth: np.ndarray) -> np.ndarray:
    """Depth where a splat was hit; 0 elsewhere (NaN, infinite or not in front)."""
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0)


def depth_to_uint16(depth: np.ndarray) -> tuple[np.ndarray, float]:
    """Depth (H, W) -> (uint16 image, scale) with depth = value * scale; 0 means no hit."""
    hits = _hits(depth)
    top = float(hits.max()) if hits.size else 0.0
    scale = top / 65535.0 if top > 0 else 1.0
    return np.clip(np.round(hits / scale), 0, 65535).astype(np.uint16), scale


def write_view(output: RenderOutput, directory: Path, stem: str, *, depth: str = "expected",
               depth_format: str = "png16", alpha: bool = False,
               units: str = "scene units") -> dict[str, Any]:
    """Write camera 0 of ``output``; returns what was written (paths and depth scale).
    ``depth_format`` "exr" keeps depth in float32 (channel Z) instead of 16 bits."""
    if depth not in DEPTH_KINDS or depth_format not in DEPTH_FORMATS:
        raise ValueError(f"depth {depth!r} as {depth_format!r}: depth is one of {DEPTH_KINDS}, "
                         f"its format one of {DEPTH_FORMATS}")
    rgb = output.rgb[0, ..., :3].detach().clamp(0, 1).cpu().numpy()
    if alpha:
        rgb = np.concatenate([rgb, output.alpha[0].detach().clamp(0, 1).cpu().numpy()], -1)
    written: dict[str, Any] = {"image": str(directory / f"{stem}.png")}
    _png(directory / f"{stem}.png", np.round(rgb * 255).astype(np.uint8))
    if depth != "none":
        source = output.depth if depth == "expected" else output.median_depth
        if source is None:
            raise ValueError(f"this backend gives no {depth} depth")
        z = source[0, ..., 0].detach().cpu().numpy()
        if depth_format == "exr":
            path, scale = directory / f"{stem}.depth.exr", 1.0
            write_exr(path, {"Z": _hits(z).astype(np.float32)})
        else:
            path = directory / f"{stem}.depth.png"
            values, scale = depth_to_uint16(z)
            _png(path, values)
        meta = {"depth": depth, "scale": scale, "units": units,
                "meaning": "camera-space z = pixel value * scale; 0 = nothing was hit"}
        write_json(directory / f"{stem}.depth.json", meta, indent=1)
        written.update(depth=str(path), depth_scale=scale)
    return written


@dataclass(frozen=True)
class ViewOptions:
    """What ``render_views`` writes for each camera."""

    depth: str = "expected"  # one of DEPTH_KINDS
    depth_format: str = "png16"  # one of DEPTH_FORMATS
    alpha: bool = False  # RGBA instead of RGB
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sh_degree: int | None = None  # SH bands up to this degree (None: all)
    backend: str = "auto"


def render_views(scene: GaussianScene, cameras: Sequence[Camera], out: str | os.PathLike,
                 options: ViewOptions = ViewOptions()) -> dict[str, Any]:
    """Render ``scene`` from every camera into the folder ``out``: a PNG per view (and
    depth beside it). The views appear together when all are done, never some of them
    (files of ``out`` that are not views of these cameras stay)."""
    from setsplat.render.render_scene import render_scene

    if not cameras:
        raise SetsplatError("no cameras to render from", "add at least one camera")
    units = f"{scene.frame.meters_per_unit:g} m" if not scene.meta.get("unscaled") \
        else "unscaled scene units"
    started = time.perf_counter()
    views, backend = [], options.backend
    with staged_folder(out, merge=True, doing="writing the views") as folder, \
            progress("rendering", total=len(cameras)) as advance:
        for camera, stem in zip(cameras, view_names([c.name for c in cameras])):
            began = time.perf_counter()
            output = render_scene(scene, [camera], sh_degree=options.sh_degree,
                                  background=options.background, backend=options.backend)[0]
            written = write_view(output, folder, stem, depth=options.depth,
                                 depth_format=options.depth_format, alpha=options.alpha,
                                 units=units)
            views.append({"camera": camera.name, **_moved(written, folder, Path(out)),
                          "width": camera.width, "height": camera.height,
                          "seconds": time.perf_counter() - began})
            backend = output.backend
            advance(1)
    return {"splats": len(scene), "out": str(out), "backend": backend, "views": views,
            "seconds": round(time.perf_counter() - started, 3)}


def _moved(written: dict[str, Any], folder: Path, out: Path) -> dict[str, Any]:
    """``write_view``'s record with its paths where the files end up."""
    return {k: str(out / Path(v).relative_to(folder)) if isinstance(v, str)
            and Path(v).is_relative_to(folder) else v for k, v in written.items()}
