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
    GLTF_FRAMES,
    RDF,
    SPZ,
    UNITY,
    UNITY_GLTF,
    UNREAL,
    UNREAL_GLTF,
    YUP,
    Frame,
    axes_basis,
    get_frame,
)

if TYPE_CHECKING:
    from setsplat.core.scene import GaussianScene

# The frames themselves live in core.axes (the scene needs them without the conversions);
# this module is where they are used.
__all__ = ["ALIASES", "FRAMES", "GLTF_FRAMES", "RDF", "SPZ", "UNITY", "UNITY_GLTF", "UNREAL",
           "UNREAL_GLTF", "YUP", "Frame", "axes_basis", "camera_pose_in_frame",
           "convert_directions", "convert_points", "convert_scene", "convert_world_to_camera",
           "frame_change", "get_frame", "guess_up"]

def frame_change(src: Frame | str, dst: Frame | str) -> tuple[float, np.ndarray]:
    """(s, Q) such that coordinates in ``dst`` are ``s * Q @ x`` for ``x`` in ``src``."""
    src, dst = get_frame(src), get_frame(dst)
    return src.meters_per_unit / dst.meters_per_unit, dst.basis @ src.basis.T


def convert_points(points: np.ndarray, src: Frame | str, dst: Frame | str) -> np.ndarray:
    scale, q = frame_change(src, dst)
    return (scale * np.asarray(points, dtype=np.float64) @ q.T).astype(np.asarray(points).dtype)


def convert_directions(directions: np.ndarray, src: Frame | str, dst: Frame | str
                       ) -> np.ndarray:
    """Directions (normals) in ``dst``: turned or mirrored like points, not scaled."""
    _, q = frame_change(src, dst)
    return np.asarray(directions, dtype=np.float64) @ q.T


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


def guess_up(points: np.ndarray, opacities: np.ndarray | None = None
             ) -> tuple[np.ndarray, float]:
    """Guess the up direction of a scene from its floor.

    A scanned set's floor is its flattest, sharpest layer of surface: a wall can hold as
    many splats, but training spreads them a few centimetres deep, while the floor
    comes out as one thin sheet. Only opaque splats count as surface (without
    ``opacities`` every point does). Along each axis, every layer 1/800 of the set's
    size thick is scored by how many splats it holds beyond the background around it
    (the layers 2.5 to 5 thicknesses away); the axis of the best layer is up, pointing
    to the side that holds more of the set. The confidence is its score over the
    other axes' best (about 1 means no clear floor).
    """
    points = np.asarray(points, dtype=np.float64)
    if opacities is not None and np.count_nonzero(np.asarray(opacities) >= 0.5) >= 100:
        points = points[np.asarray(opacities) >= 0.5]
    if len(points) < 100:
        return np.array([0.0, -1.0, 0.0]), 1.0
    low, high = np.percentile(points, [1, 99], axis=0)
    step = max(float((high - low).max()) / 1600, 1e-12)  # half a layer
    around = np.r_[np.ones(6), np.zeros(9), np.ones(6)] / 12  # per half-layer, both sides
    scores, layers = [], []
    for axis in range(3):
        edges = np.arange(low[axis] - 12 * step, high[axis] + 14 * step, step)
        counts = np.histogram(points[:, axis], bins=edges)[0].astype(np.float64)
        pairs = counts[:-1] + counts[1:]
        prominence = pairs - np.convolve(pairs, around, mode="same")
        best = int(np.argmax(prominence))
        scores.append(float(prominence[best]))
        layers.append((edges[best], edges[best + 2]))
    order = np.argsort(scores)[::-1]
    axis = int(order[0])
    bottom, top = layers[axis]
    up = np.zeros(3)
    up[axis] = 1.0 if np.sum(points[:, axis] > top) > np.sum(points[:, axis] < bottom) else -1.0
    return up, scores[axis] / max(scores[int(order[1])], 1e-12)
