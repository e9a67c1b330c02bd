"""A shot's camera per frame, and the per-frame camera data written beside its plates.

Each record carries the intrinsics (pixels and millimetres) and the pose twice:
``opencv``: world-to-camera with OpenCV camera axes (x right, y down, z forward) in the
set's 3DGS/COLMAP world (``rdf``: the frame its PLY export and training use), and
``usd``: camera-to-world with USD/glTF camera axes (x right, y up, looking down -z) in
the set asset's Y-up metres (the shot stage's frame).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.frames import convert_world_to_camera

from .model import Shot, check_aspect
from .paths import evaluate

CONVENTIONS = {
    "pixels": "pixel (i, j) covers i..i+1, j..j+1 (COLMAP/gsplat); the image centre is "
              "(width/2, height/2)",
    "opencv": "world_to_camera maps the set's rdf world (x right, y down, z forward, metres; "
              "the frame of its PLY export) to OpenCV camera axes (x right, y down, z "
              "forward); camera_to_world is its inverse",
    "usd": "camera_to_world in the set asset's yup world (Y up, metres; the shot stage), "
           "camera axes x right, y up, looking down -z (USD, glTF, OpenGL); column vectors",
}


def shot_cameras(shot: Shot, width: int | None = None, height: int | None = None
                 ) -> list[Camera]:
    """One pinhole camera per frame of the shot, in the ``yup`` frame, at the shot's
    resolution unless another of the same shape is given."""
    width, height = (width or shot.resolution[0]), (height or shot.resolution[1])
    check_aspect(shot.lens, width, height)
    poses = evaluate(shot.path, shot.frames, shot.lens.focal_mm)
    return [pose.camera(width, height, shot.lens, name=f"{shot.name}.{frame}")
            for pose, frame in zip(poses, shot.frames)]


def camera_record(shot: Shot, frame: int, camera: Camera) -> dict[str, Any]:
    """What one frame's camera is, in both conventions (JSON-able)."""
    opencv = convert_world_to_camera(camera.world_to_camera, camera.frame, "rdf")
    usd = camera.pose_in("yup", "RUB")
    focal_mm = camera.fx * shot.lens.filmback_mm[0] / camera.width
    return {
        "frame": frame, "time_s": (frame - shot.frame_start) / shot.fps,
        "intrinsics": {
            "width": camera.width, "height": camera.height, "fx": camera.fx, "fy": camera.fy,
            "cx": camera.cx, "cy": camera.cy, "K": camera.K.tolist(),
            "normalized": [camera.fx / camera.width, camera.fy / camera.height,
                           camera.cx / camera.width, camera.cy / camera.height],
            "focal_length_mm": focal_mm, "filmback_mm": list(shot.lens.filmback_mm),
            "fov_x_deg": float(np.degrees(camera.fov_x)),
            "fov_y_deg": float(np.degrees(camera.fov_y)),
        },
        "opencv": {"world": "rdf", "world_to_camera": opencv.tolist(),
                   "camera_to_world": np.linalg.inv(opencv).tolist()},
        "usd": {"world": "yup", "camera_to_world": usd.tolist(),
                "world_to_camera": np.linalg.inv(usd).tolist()},
    }
