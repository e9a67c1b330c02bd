"""Rendered views to files: 8-bit PNG colour; depth as 16-bit PNG or float EXR, with a
JSON beside it saying what a pixel value means."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.fsutil import atomic_write
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
        with atomic_write(directory / f"{stem}.depth.json") as f:
            f.write(json.dumps(meta, indent=1).encode())
        written.update(depth=str(path), depth_scale=scale)
    return written
