"""The browser's camera and ours: viser places a camera by its camera-to-world rotation
(a quaternion w, x, y, z) and position, with OpenCV's camera axes (x right, y down,
looking along +z), and a vertical field of view; the image fills the browser's view,
centred. The pose converts through ``core.frames`` (``Camera.pose_in``)."""

from __future__ import annotations

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.rotation import matrix_to_quat

VIEWER_CAMERA_AXES = "RDF"


def viewer_pose(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """(wxyz, position) that puts the browser's camera where ``camera`` is, in the
    camera's own world frame."""
    pose = camera.pose_in(camera.frame, VIEWER_CAMERA_AXES)
    return matrix_to_quat(pose[:3, :3]), pose[:3, 3].copy()
