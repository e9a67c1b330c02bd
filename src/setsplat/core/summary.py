"""What is in a scene file: counts, bounds, frame, memory, opacity and scale statistics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.frames import guess_up
from setsplat.core.io import codec_for, read_scene
from setsplat.core.scene import GaussianScene


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    low, median, p99 = np.percentile(values, [0, 50, 99])
    return {"min": float(low), "median": float(median), "p99": float(p99),
            "max": float(values.max()), "mean": float(values.mean())}


def _axis_name(vector: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(vector)))
    return ("+" if vector[axis] > 0 else "-") + "xyz"[axis]


def summarize(scene: GaussianScene) -> dict[str, Any]:
    n = len(scene)
    info: dict[str, Any] = {
        "splats": n,
        "sh_degree": scene.sh_degree,
        "memory_bytes": scene.nbytes,
        "frame": {"name": scene.frame.name, "axes": scene.frame.axes,
                  "units": "unscaled" if scene.meta.get("unscaled") else
                  f"{scene.frame.meters_per_unit:g} m per unit",
                  "description": scene.frame.description},
        "extras": sorted(scene.extras),
        "meta": {k: v for k, v in scene.meta.items() if k != "provenance"},
    }
    if n == 0:
        return info
    low, high = scene.bounds()
    robust_low, robust_high = scene.bounds(percentile=1)
    info["bounds"] = {"min": low.tolist(), "max": high.tolist(), "size": (high - low).tolist(),
                      "robust_min": robust_low.tolist(), "robust_max": robust_high.tolist()}
    up, confidence = guess_up(scene.means, scene.opacities)
    expected = scene.frame.up
    info["up_guess"] = {
        "axis": _axis_name(up),
        "confidence": round(confidence, 2),
        "frame_up": _axis_name(expected),
        "agrees": bool(np.dot(up, expected) > 0.9) if confidence >= 1.5 else None,
    }
    opacity = scene.opacities
    info["opacity"] = {**_stats(opacity),
                       "below_1_255": float(np.mean(opacity < 1 / 255))}
    info["scale"] = _stats(scene.scales.max(axis=1))
    return info


def describe_file(path: str | os.PathLike, drop_invalid: bool = False) -> dict[str, Any]:
    """``summarize`` of the scene in a file, plus what the file itself says."""
    codec = codec_for(path)
    scene = read_scene(path, drop_invalid=drop_invalid) if drop_invalid else read_scene(path)
    info = {"file": os.fspath(path), "file_bytes": Path(path).stat().st_size,
            "format": codec.__name__.rsplit(".", 1)[-1]}
    if hasattr(codec, "property_summary"):
        header = codec.property_summary(path)
        info["format"] += f" ({header['format']})"
    info.update(summarize(scene))
    return info

