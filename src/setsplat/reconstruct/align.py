"""Similarity transforms between camera sets, levelling (floor down) and scale.

Every world change here is a similarity ``x -> s R x + t`` applied to a whole model
(``ColmapModel.transformed``), so cameras and points move together. The target frame
is ``core.frames.RDF``: y points down, so "up" is ``-y``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.frames import RDF


@dataclass
class Similarity:
    """``x -> scale * rotation @ x + translation``."""

    scale: float = 1.0
    rotation: np.ndarray = None  # type: ignore[assignment]
    translation: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.rotation = np.eye(3) if self.rotation is None else np.asarray(self.rotation, float)
        self.translation = (np.zeros(3) if self.translation is None
                            else np.asarray(self.translation, float))

    def apply(self, points: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(points, float) @ self.rotation.T + self.translation

    def then(self, other: Similarity) -> Similarity:
        """This transform followed by ``other``."""
        return Similarity(other.scale * self.scale, other.rotation @ self.rotation,
                          other.scale * other.rotation @ self.translation + other.translation)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit direction ``a`` to unit direction ``b``."""
    a = np.asarray(a, float) / np.linalg.norm(a)
    b = np.asarray(b, float) / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -1 + 1e-12:  # opposite: half a turn about any axis orthogonal to a
        axis = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = _skew(v)
    return np.eye(3) + vx + vx @ vx / (1 + c)


def nearest_rotation(m: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m)
    return u @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ vt


def rotation_angle_deg(r: np.ndarray) -> np.ndarray:
    """Angles (degrees) of rotation matrices (..., 3, 3); atan2 keeps tiny ones exact."""
    r = np.asarray(r, float)
    cos = (np.trace(r, axis1=-2, axis2=-1) - 1) / 2
    axis = np.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0],
                     r[..., 1, 0] - r[..., 0, 1]], -1)
    return np.degrees(np.arctan2(np.linalg.norm(axis, axis=-1) / 2, cos))


def align_cameras(estimate: Sequence[Camera], reference: Sequence[Camera]) -> Similarity:
    """The similarity taking ``estimate``'s world onto ``reference``'s.

    The rotation is the chordal mean of the per-camera rotations (what minimises the
    rotation error), then scale and translation fit the camera centres by least squares.
    """
    r_est = np.stack([c.rotation for c in estimate])
    r_ref = np.stack([c.rotation for c in reference])
    # x_ref = M x_est turns a camera's R_est into R_est M^T ≈ R_ref, so M ≈ R_ref^T R_est
    rotation = nearest_rotation(np.einsum("nji,njk->ik", r_ref, r_est))
    c_est = np.stack([c.center for c in estimate]) @ rotation.T
    c_ref = np.stack([c.center for c in reference])
    d_est, d_ref = c_est - c_est.mean(0), c_ref - c_ref.mean(0)
    scale = float(np.sum(d_est * d_ref) / max(np.sum(d_est * d_est), 1e-300))
    return Similarity(scale, rotation, c_ref.mean(0) - scale * c_est.mean(0))


@dataclass
class PoseErrors:
    rotation_deg: np.ndarray  # per camera
    center: np.ndarray  # per camera, in the reference's units
    scene_size: float  # reference cameras' extent (largest distance from their centroid, x2)

    def summary(self) -> dict[str, float]:
        return {"rotation_mean_deg": float(self.rotation_deg.mean()),
                "rotation_max_deg": float(self.rotation_deg.max()),
                "center_mean": float(self.center.mean()),
                "center_max": float(self.center.max()),
                "center_max_rel": float(self.center.max() / self.scene_size)}


def pose_errors(estimate: Sequence[Camera], reference: Sequence[Camera],
                similarity: Similarity | None = None) -> PoseErrors:
    """Rotation and centre errors of ``estimate`` after a similarity onto ``reference``."""
    sim = align_cameras(estimate, reference) if similarity is None else similarity
    r_est = np.stack([c.rotation for c in estimate]) @ sim.rotation.T
    r_ref = np.stack([c.rotation for c in reference])
    rot = rotation_angle_deg(np.einsum("nij,nkj->nik", r_est, r_ref))
    c_ref = np.stack([c.center for c in reference])
    c_est = sim.apply(np.stack([c.center for c in estimate]))
    size = 2 * float(np.max(np.linalg.norm(c_ref - c_ref.mean(0), axis=1)))
    return PoseErrors(rot, np.linalg.norm(c_est - c_ref, axis=1), max(size, 1e-300))


# ----------------------------------------------------------------------------- levelling
def camera_up(cameras: Sequence[Camera]) -> np.ndarray:
    """The world's up as the cameras see it.

    Photographers tilt cameras up and down but rarely roll them, so each camera's x axis
    (its right) is level: up is the direction most perpendicular to all of them (the
    least eigenvector of the sum of x xᵀ), signed to agree with the cameras' mean -y.
    Unlike averaging the cameras' -y axes this is not pulled by a common pitch (every
    photo looking down at a set). When all cameras share one heading the x axes pin
    up only to a plane; then the mean -y is projected into it.
    """
    rights = np.stack([c.rotation[0] for c in cameras])  # row 0 of R: camera x in world
    ups = np.stack([-c.rotation[1] for c in cameras])  # row 1: camera y (down) in world
    mean_up = ups.mean(0)
    if np.linalg.norm(mean_up) < 1e-9:
        mean_up = np.array([0.0, -1.0, 0.0])
    values, vectors = np.linalg.eigh(rights.T @ rights)  # ascending
    if values[1] > 10 * max(values[0], 1e-12 * values[2]):
        up = vectors[:, 0]
    else:  # one heading: up lies in the plane normal to the common right direction
        right = vectors[:, 2]
        up = mean_up - (mean_up @ right) * right
    up = up if up @ mean_up >= 0 else -up
    return up / np.linalg.norm(up)


@dataclass
class Plane:
    normal: np.ndarray  # unit
    offset: float  # points p on it satisfy normal @ p + offset = 0
    inliers: int
    inlier_share: float


def fit_floor(points: np.ndarray, up: np.ndarray, centers: np.ndarray,
              threshold: float, *, max_tilt_deg: float = 30.0, iterations: int = 500,
              seed: int = 0) -> Plane | None:
    """RANSAC plane through the sparse points that can be the floor.

    A floor faces within ``max_tilt_deg`` of ``up`` (from the cameras), has 80% of the
    cameras above it and lies below 80% of the points; the best-supported plane that
    qualifies is refined by least squares on its inliers. Triples are drawn from the
    lowest quarter of the points: a floor holding 5-10% of all points (a scan that
    mostly faces walls) is then drawn every few tries instead of once in a thousand,
    and a table top with more points cannot win. None when nothing qualifies.
    """
    points = np.asarray(points, float)
    if len(points) < 50:
        return None
    rng = np.random.default_rng(seed)
    cos_tilt = np.cos(np.radians(max_tilt_deg))
    heights = points @ up
    low = points[heights <= np.quantile(heights, 0.25)]
    best: tuple[int, np.ndarray, float] | None = None
    for i, j, k in rng.integers(0, len(low), (iterations, 3)):
        normal = np.cross(low[j] - low[i], low[k] - low[i])
        norm = np.linalg.norm(normal)
        if norm < 1e-12:
            continue
        normal /= norm
        if normal @ up < 0:
            normal = -normal
        if normal @ up < cos_tilt:
            continue
        offset = -normal @ low[i]
        distances = points @ normal + offset
        support = int(np.sum(np.abs(distances) < threshold))
        if (best is None or support > best[0]) and _can_be_floor(
                distances, centers @ normal + offset, threshold):
            best = (support, normal, offset)
    if best is None:
        return None
    _, normal, offset = best
    inliers = np.abs(points @ normal + offset) < threshold
    centroid = points[inliers].mean(0)
    normal = np.linalg.svd(points[inliers] - centroid)[2][2]
    normal = normal if normal @ up > 0 else -normal
    offset = -normal @ centroid
    if normal @ up < cos_tilt or not _can_be_floor(points @ normal + offset,
                                                   centers @ normal + offset, threshold):
        return None
    return Plane(normal, float(offset), int(inliers.sum()), float(inliers.mean()))


def _can_be_floor(point_heights: np.ndarray, camera_heights: np.ndarray,
                  threshold: float) -> bool:
    """Heights above the plane: 80% of the cameras above it, 80% of the points on or above."""
    return bool(np.mean(camera_heights > 0) >= 0.8
                and np.mean(point_heights > -threshold) >= 0.8)


def level(up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Rotation taking ``up`` to the frame's up (-y in RDF) and ``forward``, flattened onto
    the ground, to +z."""
    target_up = RDF.up
    rotation = rotation_between(up, target_up)
    f = rotation @ np.asarray(forward, float)
    f -= (f @ target_up) * target_up
    if np.linalg.norm(f) < 1e-9:
        return rotation
    f /= np.linalg.norm(f)
    z = np.array([0.0, 0.0, 1.0])
    sin, cos = float(np.cross(f, z) @ target_up), float(f @ z)
    k = _skew(target_up)
    yaw = np.eye(3) + sin * k + (1 - cos) * k @ k  # about the up axis, f -> z
    return yaw @ rotation


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]], float)
