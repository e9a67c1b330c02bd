"""Coverage after SfM: which parts of the set the photos saw, how often, how sharply.

A tech must learn that a wall was never photographed before the set is struck. SfM
knows what was seen: every sparse point lists the photos that observed it. Looking down
on the set (upright: y down), around the middle of its wall points (points above the
floor band and below the ceiling band), the set's outline is cut into ``SECTORS``
bearings. Bearings are taken from where the photos were taken when that lies inside
the set (a room), else from the middle of the set (an object the photos went round).
In a room, a sector's outline is its wall points beyond the cameras standing in that
direction (a wall, a hall seen through a doorway; not the table the cameras circle); a
sector is seen by the photos that observed those points, at a resolution of focal
length / depth for each observation (pixels per centimetre when metric, per scene unit
otherwise; the median).

A sector no photo saw, or fewer than ``MIN_CAMERAS`` photos (too few to fit a surface
from views it was not trained on), is a place to reshoot; neighbouring ones merge and
are named by their bearing and where the outline would run (between the seen sectors on
either side). Bearings are in the SfM frame: the first photo looks along +z ("far", 0°),
x is to the right ("right", 90°). Interior sets and objects read the same way: a room's
wall, or the side of a prop the arc never reached.

Every surface gets a top-down grid as well: how many photos saw the points in each cell.
``coverage_map`` returns plain data (stored as ``coverage`` in sfm_report.json, for the
viewer); ``draw_coverage`` makes the top-down PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera

MIN_CAMERAS = 3  # photos a sector needs to count as covered
SECTORS = 24  # bearings around the set, 15 degrees each
FLOOR_BAND = 0.1  # share of the height at the bottom (floor) and top (ceiling) left out
GRID = 48  # cells across the longer side of the top-down map
NAMES = ("far", "far-right", "right", "near-right", "near", "near-left", "left", "far-left")


def coverage_map(cameras: Sequence[Camera], points: np.ndarray,
                 observers: Sequence[np.ndarray], metric: bool) -> dict[str, Any]:
    """Coverage of the set's outline, by bearing, and a top-down grid; ``observers[i]``
    holds the indices (into ``cameras``) of the photos that saw ``points[i]``."""
    points = np.asarray(points, np.float64).reshape(-1, 3)
    walls = np.flatnonzero(_wall_points(points))
    if len(walls) < 10:
        return {"sectors": [], "reshoot": [], "note": "too few points to map coverage"}
    xz = points[:, [0, 2]]
    stands = np.array([[c.center[0], c.center[2]] for c in cameras])
    centre, interior = _centre(xz[walls], stands)
    which, distance = _polar(xz[walls], centre)
    at, away = _polar(stands, centre)
    sectors = []
    for k in range(SECTORS):
        # in a room the outline lies beyond where the photos were taken from: a table
        # between the cameras is not the wall that no photo shows behind them
        near = (at - k + 1) % SECTORS <= 2
        beyond = away[near].max() if interior and near.any() else 0.0
        mine = (which == k) & (distance > beyond)
        reach = float(distance[mine].max()) if mine.any() else None
        sectors.append(_sector(k, walls[mine], reach, points, observers, cameras, metric))
    _place_unseen(sectors, centre)
    return {"units": "m" if metric else "units",
            "resolution_unit": "px/cm" if metric else "px/unit",
            "min_cameras": MIN_CAMERAS, "centre_xz": centre.round(3).tolist(),
            "sectors": sectors, "reshoot": _reshoot(sectors, metric),
            "grid": _grid(points, observers, np.concatenate([
                np.percentile(xz[walls], [1, 99], axis=0), stands,
                [s["outline_xz"] for s in sectors]]))}


def _centre(walls_xz: np.ndarray, cameras_xz: np.ndarray) -> tuple[np.ndarray, bool]:
    """Where bearings are taken from, and whether the set is a room: the cameras' middle
    when it lies inside the set (what lies in each direction from where the photos were
    taken), the wall points' middle otherwise (an object the photos went round)."""
    low, high = np.percentile(walls_xz, [5, 95], axis=0)
    middle = np.median(cameras_xz, axis=0)
    inside = bool(np.all((middle > low) & (middle < high)))
    return (middle, True) if inside else (np.median(walls_xz, axis=0), False)


def _polar(xz: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sector index (by bearing: 0 along +z, 90 along +x) and distance from ``centre``."""
    offset = xz - centre
    bearing = np.degrees(np.arctan2(offset[:, 0], offset[:, 1])) % 360
    sector = np.floor(bearing / (360 / SECTORS)).astype(np.int64) % SECTORS
    return sector, np.hypot(offset[:, 0], offset[:, 1])


def _wall_points(points: np.ndarray) -> np.ndarray:
    """Points above the floor band and below the ceiling band (y is down)."""
    top, bottom = np.percentile(points[:, 1], [2, 98])
    margin = FLOOR_BAND * (bottom - top)
    return (points[:, 1] > top + margin) & (points[:, 1] < bottom - margin)


def _sector(k: int, outer: np.ndarray, reach: float | None, points: np.ndarray, observers,
            cameras, metric: bool) -> dict[str, Any]:
    seen: set[int] = set()
    resolution = []
    for i in outer:
        for c in observers[i]:
            camera = cameras[int(c)]
            depth = float((camera.world_to_camera[:3, :3] @ points[i]
                           + camera.world_to_camera[:3, 3])[2])
            if depth > 0:
                seen.add(int(c))
                resolution.append(camera.fx / depth / (100.0 if metric else 1.0))
    step = 360 / SECTORS
    status = "unseen" if not seen else "weak" if len(seen) < MIN_CAMERAS else "ok"
    return {"bearing_deg": [k * step, (k + 1) * step], "distance": reach and round(reach, 3),
            "points": len(outer), "cameras": len(seen),
            "resolution": round(float(np.median(resolution)), 3) if resolution else None,
            "status": status}


def _place_unseen(sectors: list[dict[str, Any]], centre: np.ndarray) -> None:
    """Where each sector's outline runs: its farthest points, or for a sector with none,
    the distance of the nearest sectors with points on either side, interpolated."""
    known = [k for k, s in enumerate(sectors) if s["distance"]]
    for k, sector in enumerate(sectors):
        if not sector["distance"] and known:
            before = max((j for j in known if j < k), default=known[-1])
            after = min((j for j in known if j > k), default=known[0])
            span = (after - before) % len(sectors) or len(sectors)
            share = ((k - before) % len(sectors)) / span
            sector["distance_estimated"] = round(
                (1 - share) * sectors[before]["distance"] + share * sectors[after]["distance"],
                3)
        middle = np.radians(np.mean(sector["bearing_deg"]))
        reach = sector["distance"] or sector.get("distance_estimated") or 0.0
        sector["outline_xz"] = (centre + reach * np.array([np.sin(middle), np.cos(middle)])
                                ).round(3).tolist()


def _reshoot(sectors: list[dict[str, Any]], metric: bool) -> list[dict[str, Any]]:
    """Neighbouring sectors that are not covered, merged (round the circle) and named."""
    bad = [k for k, s in enumerate(sectors) if s["status"] != "ok"]
    if not bad or len(bad) == len(sectors):
        return [] if not bad else [_run(sectors, bad, metric)]
    runs: list[list[int]] = []
    for k in bad:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == len(sectors) - 1:
        runs[0] = runs.pop() + runs[0]
    return [_run(sectors, run, metric) for run in runs]


def _run(sectors: list[dict[str, Any]], members: list[int], metric: bool) -> dict[str, Any]:
    step = 360 / len(sectors)
    start, end = members[0] * step, (members[-1] + 1) * step
    middle = (start + ((end - start) % 360 or 360) / 2) % 360
    name = NAMES[round(middle / 45) % 8]
    cameras = max(sectors[k]["cameras"] for k in members)
    where = np.mean([sectors[k]["outline_xz"] for k in members], axis=0)
    unit = "m" if metric else "units"
    seen = "no photo shows it" if cameras == 0 else \
        f"at most {cameras} photo{'s' * (cameras != 1)} show it"
    return {"bearing_deg": [start, end], "side": name, "cameras": cameras,
            "around_xz": where.round(3).tolist(),
            "where": f"{name} side, bearings {start:.0f}-{end:.0f}° (around x = "
                     f"{where[0]:.2f}, z = {where[1]:.2f} {unit}): {seen}"}


def _grid(points: np.ndarray, observers, extent_xz: np.ndarray) -> dict[str, Any]:
    """Top-down cells over ``extent_xz`` (the set, the cameras, the outline; grown by a
    twentieth): how many photos saw points in each; x across, z up (far at the top)."""
    low, high = extent_xz.min(axis=0), extent_xz.max(axis=0)
    pad = 0.05 * (high - low)
    lo, hi = low - pad, high + pad
    cell = float(max(hi - lo)) / GRID
    cols, rows = (max(1, int(np.ceil(v / cell))) for v in hi - lo)
    cameras: dict[tuple[int, int], set[int]] = {}
    ij = np.floor((points[:, [0, 2]] - lo) / cell).astype(np.int64)
    for (i, j), seen in zip(ij, observers):
        if 0 <= i < cols and 0 <= j < rows:
            cameras.setdefault((rows - 1 - j, i), set()).update(int(c) for c in seen)
    counts = np.zeros((rows, cols), np.int32)
    for (r, c), seen in cameras.items():
        counts[r, c] = len(seen)
    return {"origin_xz": [float(lo[0]), float(hi[1])], "cell": cell,
            "cameras": counts.tolist()}


def draw_coverage(coverage: dict[str, Any], cameras: Sequence[Camera], path: str | Path
                  ) -> None:
    """The top-down map: cells shaded by how many photos saw them, the outline colored by
    status (green covered, orange weak, red unseen), camera positions, and the places to
    reshoot listed beneath."""
    from PIL import Image, ImageDraw

    from setsplat.core.fsutil import atomic_write

    grid = np.asarray(coverage["grid"]["cameras"]) if "grid" in coverage else np.zeros((1, 1))
    scale = max(4, 480 // max(grid.shape))
    width, height = grid.shape[1] * scale, grid.shape[0] * scale
    notes = coverage.get("reshoot", [])
    top = 20  # the title line
    height += top
    canvas = Image.new("RGB", (max(width, 640), height + 24 + 16 * max(1, len(notes))),
                       "white")
    draw = ImageDraw.Draw(canvas)
    shade = np.clip(grid / 8.0, 0, 1)
    for (r, c), value in np.ndenumerate(shade):
        if grid[r, c]:
            tone = int(235 - 160 * value)
            draw.rectangle([c * scale, top + r * scale, (c + 1) * scale - 1,
                            top + (r + 1) * scale - 1],
                           fill=(tone, tone, 255))
    if "grid" in coverage:
        origin, cell = coverage["grid"]["origin_xz"], coverage["grid"]["cell"]

        def to_px(x: float, z: float) -> tuple[float, float]:
            return (x - origin[0]) / cell * scale, top + (origin[1] - z) / cell * scale

        colors = {"ok": (40, 160, 70), "weak": (240, 150, 0), "unseen": (220, 30, 30)}
        points = [to_px(*s["outline_xz"]) for s in coverage["sectors"]]
        for k, sector in enumerate(coverage["sectors"]):
            draw.line([points[k], points[(k + 1) % len(points)]],
                      fill=colors[sector["status"]], width=4)
        for camera in cameras:
            x, _, z = camera.center
            u, v = to_px(x, z)
            draw.ellipse([u - 2, v - 2, u + 2, v + 2], fill=(30, 30, 30))
    draw.text((6, 4), "top-down, far side up: blue = photos that saw each cell; outline "
                      f"green >= {MIN_CAMERAS} photos, orange fewer, red none", fill=(0, 0, 0))
    lines = [n["where"] for n in notes] or ["every side was seen by enough photos"]
    for k, line in enumerate(lines):
        draw.text((6, height + 6 + 16 * k), ("reshoot: " if notes else "") + line,
                  fill=(200, 20, 20) if notes else (20, 120, 50))
    with atomic_write(path) as f:
        canvas.save(f, "PNG")


def read_coverage(sfm_folder: str | Path) -> dict[str, Any] | None:
    """The coverage SfM recorded (sfm_report.json), or None when there is none."""
    import json

    try:
        report = json.loads((Path(sfm_folder) / "sfm_report.json").read_text())
    except (OSError, ValueError):
        return None
    return report.get("coverage")
