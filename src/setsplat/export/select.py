"""Choosing which splats to export: a crop region, importance-ranked decimation and the
SH degree. All in the source scene's own frame and units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setsplat.core.errors import SetsplatError
from setsplat.core.io.splat import importance_order
from setsplat.core.scene import GaussianScene

CROP_SYNTAX = ("box:XMIN,YMIN,ZMIN,XMAX,YMAX,ZMAX or sphere:X,Y,Z,RADIUS "
               "(in the source's frame and units)")


@dataclass(frozen=True)
class Crop:
    """Keep splats whose centre lies inside a box (``low``..``high``) or a sphere
    (``centre``, ``radius``)."""

    kind: str
    values: tuple[float, ...]

    @classmethod
    def parse(cls, text: str) -> Crop:
        kind, _, numbers = text.partition(":")
        kind = kind.strip().lower()
        try:
            values = tuple(float(v) for v in numbers.split(","))
        except ValueError:
            values = ()
        wanted = {"box": 6, "sphere": 4}.get(kind)
        if wanted is None or len(values) != wanted or not np.isfinite(values).all():
            raise SetsplatError(f"bad --crop {text!r}", f"use {CROP_SYNTAX}")
        if kind == "box" and any(lo >= hi for lo, hi in zip(values[:3], values[3:])):
            raise SetsplatError(f"bad --crop {text!r}: each minimum must be below its maximum",
                                f"use {CROP_SYNTAX}")
        if kind == "sphere" and values[3] <= 0:
            raise SetsplatError(f"bad --crop {text!r}: the radius must be positive",
                                f"use {CROP_SYNTAX}")
        return cls(kind, values)

    def mask(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        if self.kind == "box":
            low, high = np.array(self.values[:3]), np.array(self.values[3:])
            return np.all((points >= low) & (points <= high), axis=1)
        centre, radius = np.array(self.values[:3]), self.values[3]
        return np.sum((points - centre) ** 2, axis=1) <= radius * radius

    def __str__(self) -> str:
        return f"{self.kind}:" + ",".join(f"{v:g}" for v in self.values)


def crop(scene: GaussianScene, region: Crop) -> GaussianScene:
    kept = scene.subset(region.mask(scene.means))
    if len(kept) == 0:
        low, high = scene.bounds()
        raise SetsplatError(f"--crop {region} keeps no splats",
                            f"the scene spans {np.round(low, 3).tolist()} .. "
                            f"{np.round(high, 3).tolist()} in its own frame")
    return kept


def decimate(scene: GaussianScene, max_splats: int) -> GaussianScene:
    """The ``max_splats`` most important splats (opacity × volume), in their order."""
    if max_splats < 1:
        raise SetsplatError(f"--max-splats {max_splats} must be at least 1", None)
    if len(scene) <= max_splats:
        return scene
    keep = np.sort(importance_order(scene)[:max_splats])
    return scene.subset(keep)


def select(scene: GaussianScene, *, region: Crop | None = None, max_splats: int | None = None,
           sh_degree: int | None = None) -> GaussianScene:
    """Crop, then decimate, then cut (or pad) the SH degree."""
    if region is not None:
        scene = crop(scene, region)
    if max_splats is not None:
        scene = decimate(scene, max_splats)
    if sh_degree is not None:
        scene = scene.with_sh_degree(sh_degree)
    return scene
