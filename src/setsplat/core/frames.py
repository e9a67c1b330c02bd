"""Coordinate frames, and the one place that converts between them.

A frame is three axis letters plus a unit. Each letter names the physical direction
its axis points to, relative to an observer: R/L (right/left), U/D (up/down),
F/B (forward/back). ``RDF`` is OpenCV/COLMAP (x right, y down, z forward), ``RUB``
is glTF/USD/OpenGL (y up, z towards the viewer), ``RUF`` is Unity, ``FRU`` is Unreal.

Conversion is a similarity ``x' = s·Q·x``: ``Q`` orthogonal (a reflection when the
handedness changes) and ``s`` the ratio of units. Positions, splat rotations, scales
and spherical-harmonic coefficients all move with it, so a converted scene rendered
with the converted camera gives the same image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from setsplat.core.axes import (
    ALIASES,
    FRAMES,
    RDF,
    SPZ,
    UNITY,
    UNREAL,
    YUP,
    Frame,
    axes_basis,
    get_frame,
)

if TYPE_CHECKING:
    from setsplat.core.scene import GaussianScene

# The frames themselves live in core.axes (the scene needs them without the conversions);
# this module is where they are used.
__all__ = ["ALIASES", "FRAMES", "RDF", "SPZ", "UNITY", "UNREAL", "YUP", "Frame", "axes_basis",
           "camera_pose_in_frame", "convert_points", "convert_scene", "convert_world_to_camera",
           "frame_change", "get_frame", "guess_up"]

def frame_change(src: Frame | str, dst: Frame | str) -> tuple[float, np.ndarray]:
    """(s, Q) such that coordinates in ``dst`` are ``s * Q @ x`` for ``x`` in ``src``."""
    src, dst = get_frame(src), get_frame(dst)
    return src.meters_per_unit / dst.meters_per_unit, dst.basis @ src.basis.T


def convert_points(points: np.ndarray, src: Frame | str, dst: Frame | str) -> np.ndarray:
    scale, q = frame_change(src, dst)
    return (scale * np.asarray(points, dtype=np.float64) @ q.T).astype(np.asarray(points).dtype)


def convert_directions(dirs: np.ndarray, src: Frame | str, dst: Frame | str) -> np.ndarray:
    _, q = frame_change(src, dst)
    return np.asarray(dirs) @ q.T


def convert_scene(scene: GaussianScene, dst: Frame | str) -> GaussianScene:
    """The same scene expressed in frame ``dst`` (positions, rotations, scales and SH)."""
    dst = get_frame(dst)
    scale, q = frame_change(scene.frame, dst)
    return scene.apply_similarity(q, scale, np.zeros(3), frame=dst)


def convert_world_to_camera(
    world_to_camera: np.ndarray, src: Frame | str, dst: Frame | str
) -> np.ndarray:
    """A world-to-camera matrix (camera axes RDF) for the same camera, with the world in ``dst``.

    The result maps ``dst`` coordinates to the same OpenCV camera coordinates, scaled by
    the unit ratio (projection is unchanged). Its 3x3 part has determinant -1 when the
    handedness changes: it is a valid viewing matrix, not a rotation.
    """
    scale, q = frame_change(src, dst)
    out = np.eye(4)
    out[:3, :3] = np.asarray(world_to_camera)[:3, :3] @ q.T
    out[:3, 3] = scale * np.asarray(world_to_camera)[:3, 3]
    return out


def camera_pose_in_frame(
    world_to_camera: np.ndarray, src: Frame | str, dst: Frame | str, camera_axes: str
) -> np.ndarray:
    """Rigid camera-to-world (4x4) in ``dst``, with the camera's local axes ``camera_axes``.

    ``camera_axes`` is how the target application orients a camera locally: ``RUB`` for
    glTF/USD/OpenGL (looks down -Z), ``RDF`` for OpenCV, ``FRU`` for Unreal, ``RUF`` for
    Unity. The rotation is proper whenever the camera axes and ``dst`` share handedness.
    """
    scale, q = frame_change(src, dst)
    w2c = np.asarray(world_to_camera, dtype=np.float64)
    cam_to_src = w2c[:3, :3].T
    centre = -cam_to_src @ w2c[:3, 3]
    local_to_cv = axes_basis("RDF") @ axes_basis(camera_axes).T
    pose = np.eye(4)
    pose[:3, :3] = q @ cam_to_src @ local_to_cv
    pose[:3, 3] = scale * q @ centre
    return pose


def world_to_camera_from_pose(camera_to_world: np.ndarray, camera_axes: str) -> np.ndarray:
    """The OpenCV world-to-camera of a rigid camera-to-world pose whose camera's local axes
    are ``camera_axes`` (the inverse of ``camera_pose_in_frame`` within one frame)."""
    pose = np.asarray(camera_to_world, dtype=np.float64)
    local_to_cv = axes_basis("RDF") @ axes_basis(camera_axes).T
    cam_to_world = pose[:3, :3] @ local_to_cv.T
    out = np.eye(4)
    out[:3, :3] = cam_to_world.T
    out[:3, 3] = -cam_to_world.T @ pose[:3, 3]
    return out


def guess_up(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Guess the up direction of a scene from where its points pile up.

    Scanned sets have a floor: a dense slab at the bottom of the up axis. For each of
    the six axis directions we measure the share of points in the lowest 5% of the
    robust extent; the best direction wins, and the ratio to the runner-up is returned
    as a confidence (about 1 means no clear floor).
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 100:
        return np.array([0.0, -1.0, 0.0]), 1.0
    scores = []
    for axis in range(3):
        for sign in (1.0, -1.0):
            heights = sign * points[:, axis]
            low, high = np.percentile(heights, [1, 99])
            scores.append(float(np.mean(heights < low + 0.05 * max(high - low, 1e-12))))
    order = np.argsort(scores)[::-1]
    best = int(order[0])
    up = np.zeros(3)
    up[best // 2] = 1.0 if best % 2 == 0 else -1.0
    return up, scores[best] / max(scores[int(order[1])], 1e-12)
