"""Cameras: OpenCV pinhole intrinsics with COLMAP's distortion models, and poses.

A camera's pose is world-to-camera (4x4) with camera axes OpenCV's (x right, y down,
z forward) and the world in the camera's ``frame``. Pixel coordinates follow COLMAP and
gsplat: pixel (i, j) covers i..i+1, so its centre is at i + 0.5 and a centred principal
point is (width / 2, height / 2). Conversions to other
applications' camera conventions go through ``core.frames``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.errors import SetsplatError
from setsplat.core.frames import RDF, Frame, camera_pose_in_frame, get_frame
from setsplat.core.jsonio import write_json
from setsplat.core.limits import check_pixels

# COLMAP camera models and the names of their distortion parameters, in COLMAP order.
DISTORTION_PARAMS: dict[str, tuple[str, ...]] = {
    "SIMPLE_PINHOLE": (),
    "PINHOLE": (),
    "SIMPLE_RADIAL": ("k1",),
    "RADIAL": ("k1", "k2"),
    "OPENCV": ("k1", "k2", "p1", "p2"),
    "FULL_OPENCV": ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
    "OPENCV_FISHEYE": ("k1", "k2", "k3", "k4"),
    "SIMPLE_RADIAL_FISHEYE": ("k1",),
    "RADIAL_FISHEYE": ("k1", "k2"),
}


@dataclass(eq=False)
class Camera:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    world_to_camera: np.ndarray = field(default_factory=lambda: np.eye(4))
    model: str = "PINHOLE"
    distortion: dict[str, float] = field(default_factory=dict)
    name: str = ""
    frame: Frame = RDF

    def __post_init__(self) -> None:
        self.frame = get_frame(self.frame)
        self.world_to_camera = np.asarray(self.world_to_camera, dtype=np.float64)
        if self.world_to_camera.shape != (4, 4):
            raise SetsplatError(f"camera {self.name!r}: pose must be 4x4", None)
        if self.model not in DISTORTION_PARAMS:
            raise SetsplatError(f"camera {self.name!r}: unknown model {self.model!r}",
                                f"use one of {', '.join(DISTORTION_PARAMS)}")
        unknown = set(self.distortion) - set(DISTORTION_PARAMS[self.model])
        if unknown:
            raise SetsplatError(f"camera {self.name!r}: model {self.model} has no parameters "
                                f"{sorted(unknown)}", None)
        if self.width <= 0 or self.height <= 0 or not (0 < self.fx < math.inf
                                                         and 0 < self.fy < math.inf):
            raise SetsplatError(f"camera {self.name!r}: size and focal length must be positive",
                                None)
        check_pixels(self.width, self.height, f"camera {self.name!r}")
        if not (np.isfinite(self.world_to_camera).all() and math.isfinite(self.cx)
                and math.isfinite(self.cy)):
            raise SetsplatError(f"camera {self.name!r}: pose and principal point must be "
                                "finite", None)

    # ----- intrinsics ----------------------------------------------------------------
    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]])

    @property
    def fov_x(self) -> float:
        return 2 * math.atan(self.width / (2 * self.fx))

    @property
    def fov_y(self) -> float:
        return 2 * math.atan(self.height / (2 * self.fy))

    @property
    def is_pinhole(self) -> bool:
        return all(v == 0 for v in self.distortion.values())

    def focal_length_mm(self, sensor_width_mm: float = 36.0) -> float:
        """Focal length on a sensor of the given width (default full-frame 36 mm)."""
        return self.fx * sensor_width_mm / self.width

    def scaled(self, factor: float) -> Camera:
        """The same camera for an image resized by ``factor``."""
        width, height = round(self.width * factor), round(self.height * factor)
        sx, sy = width / self.width, height / self.height
        return Camera(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy,
                      self.world_to_camera.copy(), self.model,
                      dict(self.distortion), self.name, self.frame)

    # ----- pose ----------------------------------------------------------------------
    @property
    def rotation(self) -> np.ndarray:
        return self.world_to_camera[:3, :3]

    @property
    def translation(self) -> np.ndarray:
        return self.world_to_camera[:3, 3]

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return -self.rotation.T @ self.translation

    @property
    def camera_to_world(self) -> np.ndarray:
        return np.linalg.inv(self.world_to_camera)

    def pose_in(self, frame: Frame | str, camera_axes: str = "RUB") -> np.ndarray:
        """Rigid camera-to-world in another application's world frame and camera axes
        (``RUB``: glTF/USD/OpenGL, ``FRU``: Unreal, ``RUF``: Unity, ``RDF``: OpenCV)."""
        return camera_pose_in_frame(self.world_to_camera, self.frame, frame, camera_axes)

    @classmethod
    def look_at(
        cls,
        eye: Sequence[float],
        target: Sequence[float],
        *,
        width: int,
        height: int,
        fov_x_deg: float = 60.0,
        up: Sequence[float] | None = None,
        name: str = "",
        frame: Frame | str = RDF,
    ) -> Camera:
        """A pinhole camera at ``eye`` looking at ``target``, level with the frame's up."""
        frame = get_frame(frame)
        eye, target = np.asarray(eye, np.float64), np.asarray(target, np.float64)
        forward = target - eye
        if not np.linalg.norm(forward) > 0:
            raise SetsplatError("camera eye and target coincide", "move one of them")
        forward /= np.linalg.norm(forward)
        up_dir = frame.up if up is None else np.asarray(up, np.float64)
        right = np.cross(forward, up_dir) if frame.handedness == "right" else np.cross(up_dir,
                                                                                       forward)
        if np.linalg.norm(right) < 1e-9:
            raise SetsplatError("camera looks straight along the up axis", "tilt it slightly")
        right /= np.linalg.norm(right)
        down = np.cross(forward, right) if frame.handedness == "right" else np.cross(right,
                                                                                    forward)
        rotation = np.stack([right, down, forward])  # rows: camera axes in world coords
        pose = np.eye(4)
        pose[:3, :3] = rotation
        pose[:3, 3] = -rotation @ eye
        f = width / (2 * math.tan(math.radians(fov_x_deg) / 2))
        return cls(width, height, f, f, width / 2, height / 2, pose, name=name, frame=frame)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pinhole projection of world points (N, 3) -> pixels (N, 2) and depths (N,)."""
        cam = np.asarray(points, np.float64) @ self.rotation.T + self.translation
        depth = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = np.stack([self.fx * cam[:, 0] / depth + self.cx,
                               self.fy * cam[:, 1] / depth + self.cy], -1)
        return pixels, depth

    # ----- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "width": self.width, "height": self.height,
            "model": self.model, "fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy,
            "distortion": dict(self.distortion), "frame": self.frame.name,
            "world_to_camera": self.world_to_camera.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Camera:
        try:
            return cls(int(data["width"]), int(data["height"]), float(data["fx"]),
                       float(data["fy"]), float(data["cx"]), float(data["cy"]),
                       np.asarray(data["world_to_camera"], np.float64),
                       data.get("model", "PINHOLE"),
                       {k: float(v) for k, v in data.get("distortion", {}).items()},
                       data.get("name", ""), data.get("frame", "rdf"))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise SetsplatError(f"camera entry is malformed ({exc!r})",
                                "each camera needs width, height, fx, fy, cx, cy and "
                                "world_to_camera") from None


def write_cameras(path: str | Path, cameras: Sequence[Camera],
                  meta: dict[str, Any] | None = None) -> None:
    """cameras.json: a list of cameras, readable by ``read_cameras``; ``meta`` (e.g.
    ``unscaled``, provenance) is kept beside them for ``read_camera_meta``."""
    data: dict[str, Any] = {"version": 1, "cameras": [c.to_dict() for c in cameras]}
    if meta:
        data["meta"] = meta
    write_json(path, data, indent=1)


def read_cameras(path: str | Path) -> list[Camera]:
    data = _load_cameras_file(path)
    try:
        return [Camera.from_dict(c) for c in data["cameras"]]
    except SetsplatError as exc:
        raise SetsplatError(exc.what, exc.hint, path) from None


def read_camera_meta(path: str | Path) -> dict[str, Any]:
    """The ``meta`` written with the cameras (empty when there is none)."""
    meta = _load_cameras_file(path).get("meta", {})
    return meta if isinstance(meta, dict) else {}


def _load_cameras_file(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SetsplatError("no such file", "check the path", path) from None
    except (OSError, ValueError) as exc:
        raise SetsplatError(f"cannot read cameras ({exc})", "give a cameras.json that "
                            "setsplat wrote", path) from None
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
        raise SetsplatError("not a cameras file (no 'cameras' list)",
                            "give a cameras.json that setsplat wrote", path)
    return data
