"""Codecs: each format a module with symmetric ``read``/``write``; dispatch by suffix."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from setsplat.core.errors import SetsplatError

if TYPE_CHECKING:
    from setsplat.core.scene import GaussianScene

CODECS = {".ply": "ply", ".splat": "splat", ".spz": "spz", ".sog": "sog", ".glb": "gltf",
          ".gltf": "gltf", ".usd": "usd", ".usda": "usd", ".usdc": "usd"}


def codec_for(path: str | os.PathLike):
    suffix = Path(path).suffix.lower()
    if suffix not in CODECS:
        known = ", ".join(sorted(CODECS))
        raise SetsplatError(f"unknown scene format {suffix or '(no suffix)'!r}",
                            f"give a file ending in {known}", path)
    return importlib.import_module(f"setsplat.core.io.{CODECS[suffix]}")


def read_scene(path: str | os.PathLike, **options) -> GaussianScene:
    return codec_for(path).read(path, **options)


def write_scene(path: str | os.PathLike, scene: GaussianScene, **options) -> None:
    codec_for(path).write(path, scene, **options)
