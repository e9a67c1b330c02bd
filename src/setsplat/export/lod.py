"""Levels of detail and splat budgets, for sets too big for a viewer to draw whole.

A level keeps the most important splats (opacity × volume) of the one before: level 0
is the scene, each next level half as many splats (as SuperSplat builds its levels),
down to ``MIN_LEVEL_SPLATS``. SOG gets the streamed layout PlayCanvas defines
(``lod-meta.json``: the levels cut into chunks a viewer loads by distance); the other
single-file formats get a chain of files, ``name.ply``, ``name.lod1.ply``, ...

Budgets cap the splats of an export to what a class of device draws. The figures are the
Gaussian budgets SuperSplat's viewer enforces, as PlayCanvas publishes them
(https://developer.playcanvas.com/user-manual/supersplat/streaming/, "Near-instant loads
and the Gaussian budget"): desktop 4M and mobile 2M (its "Desktop" and "Mobile / XR"
rows, Performance Mode off), quest 1M (the "Mobile / XR" row with Performance Mode on:
a standalone headset draws every frame twice, once an eye).
"""

from __future__ import annotations

import math

import numpy as np

from setsplat.core.errors import SetsplatError
from setsplat.core.io.splat import importance_order
from setsplat.core.scene import GaussianScene

BUDGETS = {"desktop": 4_000_000, "mobile": 2_000_000, "quest": 1_000_000}
LOD_LEVELS = 4
MIN_LEVEL_SPLATS = 1000
LOD_TARGETS = ("ply", "splat", "spz", "sog")


def budget_splats(budget: str) -> int:
    """The splat count a ``--budget`` preset allows."""
    if budget not in BUDGETS:
        raise SetsplatError(f"unknown --budget {budget!r}", f"use one of {', '.join(BUDGETS)}")
    return BUDGETS[budget]


def level_indices(scene: GaussianScene, levels: int = LOD_LEVELS) -> list[np.ndarray]:
    """Indices (sorted) of the splats of each level: all of them, then the most important
    half, quarter, ... (``levels`` at most, none below ``MIN_LEVEL_SPLATS`` but the first)."""
    if levels < 1:
        raise SetsplatError(f"--lod {levels} must be at least 1", "e.g. --lod 4")
    ranked = importance_order(scene)
    result = [np.arange(len(scene))]
    for level in range(1, levels):
        count = math.ceil(len(scene) / 2**level)
        if count < MIN_LEVEL_SPLATS:
            break
        result.append(np.sort(ranked[:count]))
    return result


def chain_names(name: str, suffix: str, levels: int) -> list[str]:
    """File names of a chain of levels: ``name.ply``, ``name.lod1.ply``, ..."""
    return [f"{name}{suffix}"] + [f"{name}.lod{k}{suffix}" for k in range(1, levels)]
