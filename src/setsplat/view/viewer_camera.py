"""The browser's camera and ours: viser places a camera by its camera-to-world rotation
(a quaternion w, x, y, z) and position, with OpenCV's camera axes (x right, y down,
looking along +z), and a vertical field of view; the image fills the browser's canvas,
centred. The conversions go through ``core.frames``."""

from __future__ import annotations

import math

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.frames import Frame, world_to_camera_from_pose
from setsplat.core.rotation import matrix_to_quat, quat_to_matrix

VIEWER_CAMERA_AXES = "RDF"


def viewer_pose(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """(wxyz, position) that puts the browser's camera where ``camera`` is, in the
    camera's own world frame."""
    pose = camera.pose_in(camera.frame, VIEWER_CAMERA_AXES)
    return matrix_to_quat(pose[:3, :3]), pose[:3, 3].copy()


def camera_from_viewer(wxyz: np.ndarray, position: np.ndarray, fov_y: float, width: int,
                       height: int, frame: Frame | str, name: str = "view") -> Camera:
    """The pinhole camera the browser draws with: pose, vertical field of view (radians)
    and its canvas size in pixels."""
    pose = np.eye(4)
    pose[:3, :3] = quat_to_matrix(np.asarray(wxyz, np.float64))
    pose[:3, 3] = position
    focal = height / (2 * math.tan(fov_y / 2))
    return Camera(width, height, focal, focal, width / 2, height / 2,
                  world_to_camera_from_pose(pose, VIEWER_CAMERA_AXES), name=name, frame=frame)

