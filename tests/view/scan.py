"""A sample scan whose truth we know, laid out for training, for the viewer tests.

``sample_scans/tiny``: its photos with their true cameras (from
``truth.json``: metres, floor at y = 0) in place of SfM, and surface points cast from the
synthetic set (``setsplat.capture.synth`` made the photos) in place of SfM's sparse
points. Trained (by ``conftest.py``), the scene lands in the truth's own
frame, so its marker corners are known points of the scene.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np

TINY = Path(__file__).resolve().parents[2] / "sample_scans" / "tiny"
POINT_STEP = 4  # cast a surface point every 4th photo pixel


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def truth() -> dict:
    return json.loads((TINY / "truth.json").read_text())


def stage_set():
    """The synthetic set the tiny scan's photos were rendered from."""
    from setsplat.capture.stage_set import build_stage

    options = json.loads((TINY / "synth.json").read_text())["options"]
    return build_stage(options["seed"], options["markers"], options["marker_size"])


def first_hit(stage, eye: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Where the ray from ``eye`` along ``direction`` first meets the set (the truth)."""
    ray = [np.array([v]) for v in direction]
    nearest = min(float(box.intersect(eye, ray)[0]) for box in stage.boxes)
    return eye + nearest * np.asarray(direction)


def surface_points(stage, camera, step: int) -> tuple[np.ndarray, np.ndarray]:
    """The set's surface seen by ``camera`` on a grid of every ``step``-th pixel: points
    and their colors, by the synthetic scan's own ray caster."""
    from setsplat.capture.raycast import View, render

    view = View(camera.rotation.tolist(), tuple(camera.center.tolist()), camera.fx / step,
                camera.fy / step, camera.cx / step, camera.cy / step, camera.width // step,
                camera.height // step, 1)
    colors = render(stage.boxes, view).reshape(-1, 3)
    depth = np.full((view.height, view.width), np.inf, np.float32)
    for box in stage.boxes:
        rows, cols = view.window(box.seen_through or box.corners())
        if rows.start == rows.stop or cols.start == cols.stop:
            continue
        hit = box.intersect(view.center, view.directions(rows, cols))
        np.minimum(depth[rows, cols], hit, out=depth[rows, cols])
    directions = np.stack(view.directions(slice(None), slice(None)), -1).reshape(-1, 3)
    depth = depth.reshape(-1)
    seen = np.isfinite(depth)
    return camera.center + directions[seen] * depth[seen, None], colors[seen]


def make_truth_capture(root: Path) -> Path:
    """``root/sfm`` laid out as `reconstruct sfm` leaves it, from the scan's truth."""
    from setsplat.core.camera import Camera, write_cameras
    from setsplat.core.io.ply import write_points

    stage = stage_set()
    cameras = [Camera.from_dict(c) for c in truth()["cameras"]]
    sfm = root / "sfm"
    shutil.copytree(TINY / "images", sfm / "images")
    write_cameras(sfm / "cameras.json", cameras,
                  {"unscaled": False, "upright": "floor", "frame": "rdf", "source": "truth"})
    points, colors = zip(*(surface_points(stage, c, POINT_STEP) for c in cameras))
    write_points(sfm / "points.ply", np.concatenate(points),
                 np.round(np.clip(np.concatenate(colors), 0, 1) * 255))
    return root
