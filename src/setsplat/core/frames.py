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

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from setsplat.core.errors import SetsplatError
from setsplat.core.rotation import matrix_to_quat, quat_multiply
from setsplat.core.sh import transform_sh

if TYPE_CHECKING:
    from setsplat.core.scene import GaussianScene

# Physical directions in a fixed reference basis (right, up, forward): a left-handed
# triple, so a frame is right-handed exactly when its basis has determinant -1.
_DIRECTIONS = {
    "R": (1, 0, 0), "L": (-1, 0, 0),
    "U": (0, 1, 0), "D": (0, -1, 0),
    "F": (0, 0, 1), "B": (0, 0, -1),
}


def axes_basis(axes: str) -> np.ndarray:
    """Rows: the physical direction of each axis. Coordinates in the frame = basis @ v."""
    if len(axes) != 3 or any(a not in _DIRECTIONS for a in axes):
        raise ValueError(f"axes must be three of R/L/U/D/F/B, got {axes!r}")
    basis = np.array([_DIRECTIONS[a] for a in axes], dtype=np.float64)
    if abs(np.linalg.det(basis)) != 1:
        raise ValueError(f"axes {axes!r} name the same direction twice")
    return basis


@dataclass(frozen=True)
class Frame:
    name: str
    axes: str
    meters_per_unit: float
    description: str

    @property
    def basis(self) -> np.ndarray:
        return axes_basis(self.axes)

    @property
    def handedness(self) -> str:
        return "right" if np.linalg.det(self.basis) < 0 else "left"

    @property
    def up(self) -> np.ndarray:
        """The frame's up direction, in its own coordinates."""
        return self.basis @ np.array(_DIRECTIONS["U"], dtype=np.float64)

    def __str__(self) -> str:
        return self.name


RDF = Frame("rdf", "RDF", 1.0, "COLMAP / OpenCV / 3DGS PLY: x right, y down, z forward")
YUP = Frame("yup", "RUB", 1.0, "glTF / USD / Omniverse: Y up, right-handed, metres")
UNITY = Frame("unity", "RUF", 1.0, "Unity: Y up, left-handed, metres")
UNREAL = Frame("unreal", "FRU", 0.01, "Unreal: Z up, X forward, left-handed, centimetres")
SPZ = Frame("spz", "RUB", 1.0, "SPZ as stored: x right, y up, z back")

FRAMES: dict[str, Frame] = {f.name: f for f in (RDF, YUP, UNITY, UNREAL, SPZ)}
ALIASES = {"colmap": "rdf", "opencv": "rdf", "3dgs": "rdf", "gltf": "yup", "usd": "yup",
           "omniverse": "yup", "rub": "spz"}


def get_frame(frame: Frame | str) -> Frame:
    if isinstance(frame, Frame):
        return frame
    key = ALIASES.get(frame.lower(), frame.lower())
    if key not in FRAMES:
        names = ", ".join(sorted([*FRAMES, *ALIASES]))
        raise SetsplatError(f"unknown frame {frame!r}", f"use one of: {names}")
    return FRAMES[key]


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
    return apply_similarity(scene, q, scale, np.zeros(3), frame=dst)


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


def check_similarity(linear: np.ndarray) -> tuple[float, np.ndarray]:
    """Split a 3x3 linear map into (scale, orthogonal); refuse shear and non-uniform scale."""
    linear = np.asarray(linear, dtype=np.float64)
    scale = abs(np.linalg.det(linear)) ** (1 / 3)
    if not scale > 0:
        raise SetsplatError("the transform collapses space (determinant 0)",
                            "give a rotation, uniform scale and translation")
    q = linear / scale
    if not np.allclose(q @ q.T, np.eye(3), atol=1e-5):
        raise SetsplatError("the transform has shear or non-uniform scale",
                            "Gaussian splats can only take a rotation, uniform scale and "
                            "translation (reflections are fine)")
    return scale, q


def apply_similarity(
    scene: GaussianScene,
    orthogonal: np.ndarray,
    scale: float,
    translation: np.ndarray,
    frame: Frame | None = None,
) -> GaussianScene:
    """Map every splat by ``x -> scale * Q @ x + t`` (Q may be a reflection).

    A splat's covariance R S² Rᵀ becomes s² Q R S² Rᵀ Qᵀ. That is quadratic in Q, so
    with P = ±Q chosen to be a rotation it equals s² (P R) S² (P R)ᵀ: rotations compose
    with P, scales gain log(s), and only the SH (odd degrees flip) see the reflection.
    """
    q = np.asarray(orthogonal, dtype=np.float64)
    proper = q * np.sign(np.linalg.det(q))
    quats = quat_multiply(matrix_to_quat(proper), scene.quats.astype(np.float64))
    means = scale * scene.means.astype(np.float64) @ q.T + np.asarray(translation, np.float64)
    sh = transform_sh(scene.sh, q)
    return scene.replace(
        means=means.astype(np.float32),
        quats=quats.astype(np.float32),
        log_scales=(scene.log_scales + np.float32(np.log(scale))).astype(np.float32),
        sh=sh,
        frame=scene.frame if frame is None else frame,
    )


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
