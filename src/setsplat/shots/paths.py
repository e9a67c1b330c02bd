"""Camera paths: keyframes from a file, or presets placed by the set's bounds and floor.

Everything here is in the set asset's frame: Y up, metres (``yup``). A camera's
orientation is its camera-to-world rotation with USD's camera axes (x right, y up,
looking down -z), as in the shot stage.

A path is stored as a JSON-able *spec*, resolved once when the shot is made so that
evaluating it later needs no splats:

* ``{"kind": "keyframes", "keys": [...], "ease": true}``: each key has ``frame``,
  ``position`` and one of ``look_at``, ``rotation`` (quaternion w,x,y,z) or
  ``rotate_xyz`` (degrees, as USD's rotateXYZ), and optionally ``focal_mm``. Positions,
  look-at points and focal lengths follow a cubic through the keys (Catmull-Rom
  tangents; zero speed at the first and last key when easing); rotations are
  interpolated by slerp, eased at both ends likewise. When every key has a look-at
  point the camera keeps looking at the interpolated point instead.
* ``{"kind": "preset", "preset": NAME, "start": {...}, "pivot": [...], "amount": A}``:
  ``static`` holds the start; ``dolly-in`` moves it forward along the floor by A metres,
  ``truck`` to its right by A metres, ``crane-up`` up by A metres while keeping the
  pivot in view, ``orbit`` turns it A degrees around the vertical through the pivot.
  The start is a pose placed from the set's bounds (``azimuth``, ``distance``,
  ``height``, ``target_height``), or the pose a scan photo was taken from.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.rotation import matrix_to_quat, quat_to_matrix
from setsplat.core.scene import GaussianScene

from .model import Lens

UP = np.array([0.0, 1.0, 0.0])
KEYFRAME_SUFFIXES = (".json", ".yaml", ".yml")
# The parameters each preset takes (all optional), in metres, degrees or 0/1.
PLACEMENT = ("azimuth", "distance", "height", "target_height", "ease")
PRESETS: dict[str, tuple[str, ...]] = {
    "static": PLACEMENT,
    "dolly-in": (*PLACEMENT, "amount"),
    "truck": (*PLACEMENT, "amount"),
    "crane-up": (*PLACEMENT, "amount"),
    "orbit": (*PLACEMENT, "degrees"),
}
EYE_HEIGHT_M = 1.6
TARGET_HEIGHT_M = 1.2


@dataclass(frozen=True)
class SetGeometry:
    """Where the set is: robust bounds of its splats (1–99 % of centres) and its floor
    (the lowest of them in Y: sets come upright out of `setsplat run`)."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def from_scene(cls, scene: GaussianScene) -> SetGeometry:
        if scene.frame.name != "yup":
            raise ValueError("SetGeometry wants a scene in the yup frame")
        low, high = scene.bounds(percentile=1)
        return cls(np.asarray(low, np.float64), np.asarray(high, np.float64))

    @property
    def floor(self) -> float:
        return float(self.low[1])

    @property
    def centre(self) -> np.ndarray:
        return (self.low + self.high) / 2

    @property
    def height(self) -> float:
        return max(float(self.high[1] - self.low[1]), 1e-6)

    @property
    def reach(self) -> float:
        """Half the set's smaller horizontal size: how far a camera can stand off."""
        return max(float(min(self.high[0] - self.low[0], self.high[2] - self.low[2])) / 2,
                   1e-6)

    def as_dict(self) -> dict[str, Any]:
        return {"low": self.low.tolist(), "high": self.high.tolist(), "floor": self.floor}


@dataclass(frozen=True)
class Pose:
    """One frame of a path: position, camera-to-world rotation (USD camera axes) and
    the focal length in mm."""

    position: np.ndarray
    rotation: np.ndarray
    focal_mm: float

    def camera(self, width: int, height: int, lens: Lens, name: str = "") -> Camera:
        """The pinhole camera of this pose (frame ``yup``, OpenCV camera axes)."""
        to_opencv = np.diag([1.0, -1.0, -1.0])  # RUB camera axes -> RDF
        rotation = self.rotation @ to_opencv
        world_to_camera = np.eye(4)
        world_to_camera[:3, :3] = rotation.T
        world_to_camera[:3, 3] = -rotation.T @ self.position
        fx, fy, cx, cy = lens.intrinsics(width, height, self.focal_mm)
        return Camera(width, height, fx, fy, cx, cy, world_to_camera, name=name, frame="yup")

    @classmethod
    def of_camera(cls, camera: Camera, focal_mm: float) -> Pose:
        """Where ``camera`` is, in the yup frame (its own frame converted)."""
        pose = camera.pose_in("yup", "RUB")
        return cls(pose[:3, 3].copy(), pose[:3, :3].copy(), focal_mm)


def look_rotation(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world rotation (USD camera axes) looking from ``eye`` at ``target``,
    level (no roll)."""
    forward = np.asarray(target, np.float64) - np.asarray(eye, np.float64)
    if not np.linalg.norm(forward) > 1e-9:
        raise SetsplatError("a camera's position and look-at point coincide", "move one")
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, UP)
    if np.linalg.norm(right) < 1e-6:
        raise SetsplatError("a camera looks straight up or down", "tilt it slightly")
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(right, forward), -forward], 1)


def _rotate_xyz(degrees: Sequence[float]) -> np.ndarray:
    """USD's rotateXYZ: X first, then Y, then Z (column vectors: Rz @ Ry @ Rx)."""
    x, y, z = np.radians(np.asarray(degrees, np.float64))
    rx = np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(z), -math.sin(z), 0], [math.sin(z), math.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


# ----------------------------------------------------------------------------- keyframes
def load_keyframes(path: str | os.PathLike) -> dict[str, Any]:
    """A keyframe spec from a JSON or YAML file (one line errors naming the file)."""
    path = Path(path)
    if path.suffix.lower() not in KEYFRAME_SUFFIXES:
        raise SetsplatError("keyframes must be a .json, .yaml or .yml file", None, path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SetsplatError("no such file", "check the path of the keyframes", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SetsplatError(f"cannot read it ({exc})", None, path) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # json and yaml both have many error types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SetsplatError(f"not valid {path.suffix[1:].upper()} ({first})",
                            "fix the file", path) from None
    try:
        return keyframe_spec(data, source=os.fspath(path))
    except SetsplatError as exc:
        raise SetsplatError(exc.what, exc.hint, path) from None


def keyframe_spec(data: Any, source: str = "") -> dict[str, Any]:
    """Check keyframes given as ``{"keys": [...], "ease": bool}`` or a bare list."""
    if isinstance(data, list):
        data = {"keys": data}
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise SetsplatError("no keyframes (expected a list under 'keys')",
                            "see `setsplat shots new --help` for the format")
    keys = [_check_key(index, key) for index, key in enumerate(data["keys"], 1)]
    frames = [k["frame"] for k in keys]
    if any(b <= a for a, b in itertools.pairwise(frames)):
        raise SetsplatError(f"key frames must increase, got {frames}", "order the keys")
    return {"kind": "keyframes", "source": source, "ease": bool(data.get("ease", True)),
            "keys": keys}


def _vector(index: int, key: dict, name: str, size: int = 3) -> list[float] | None:
    if key.get(name) is None:
        return None
    value = key[name]
    try:
        vector = [float(v) for v in value]
    except (TypeError, ValueError):
        vector = []
    if len(vector) != size or not all(math.isfinite(v) for v in vector):
        raise SetsplatError(f"key {index}: {name} must be {size} numbers, got {value!r}", None)
    return vector


def _check_key(index: int, key: Any) -> dict[str, Any]:
    if not isinstance(key, dict):
        raise SetsplatError(f"key {index} is not a mapping", "give frame, position, look_at")
    unknown = set(key) - {"frame", "position", "look_at", "rotation", "rotate_xyz", "focal_mm"}
    if unknown:
        raise SetsplatError(f"key {index}: unknown field(s) {sorted(unknown)}",
                            "use frame, position, look_at | rotation | rotate_xyz, focal_mm")
    frame = key.get("frame")
    if not isinstance(frame, (int, float)) or isinstance(frame, bool) or \
            not math.isfinite(frame):
        raise SetsplatError(f"key {index}: needs a frame number", "e.g. frame: 1001")
    position = _vector(index, key, "position")
    if position is None:
        raise SetsplatError(f"key {index}: needs a position", "x, y, z in the set's Y-up metres")
    aims = [n for n in ("look_at", "rotation", "rotate_xyz") if key.get(n) is not None]
    if len(aims) != 1:
        raise SetsplatError(f"key {index}: give exactly one of look_at, rotation, rotate_xyz",
                            "look_at is the easiest: the point the camera looks at")
    checked: dict[str, Any] = {"frame": float(frame), "position": position}
    if aims[0] == "look_at":
        checked["look_at"] = _vector(index, key, "look_at")
        look_rotation(np.array(position), np.array(checked["look_at"]))  # fails early
    elif aims[0] == "rotation":
        quat = np.array(_vector(index, key, "rotation", 4))
        if not np.linalg.norm(quat) > 1e-9:
            raise SetsplatError(f"key {index}: rotation is a zero quaternion", "give w, x, y, z")
        checked["rotation"] = (quat / np.linalg.norm(quat)).tolist()
    else:
        checked["rotate_xyz"] = _vector(index, key, "rotate_xyz")
    if key.get("focal_mm") is not None:
        focal = key["focal_mm"]
        if not isinstance(focal, (int, float)) or not focal > 0:
            raise SetsplatError(f"key {index}: focal_mm must be a positive number", None)
        checked["focal_mm"] = float(focal)
    return checked


def _key_rotation(key: dict[str, Any]) -> np.ndarray:
    if "look_at" in key:
        return look_rotation(np.array(key["position"]), np.array(key["look_at"]))
    if "rotation" in key:
        return quat_to_matrix(np.array(key["rotation"]))
    return _rotate_xyz(key["rotate_xyz"])


def _spline(times: np.ndarray, values: np.ndarray, query: np.ndarray, ease: bool) -> np.ndarray:
    """Cubic Hermite through (times, values) with Catmull-Rom tangents; flat at both
    ends when easing. Holds the first/last value outside the keys."""
    values = np.asarray(values, np.float64)
    if len(times) == 1:
        return np.repeat(values, len(query), 0)
    tangents = np.zeros_like(values)
    tangents[1:-1] = (values[2:] - values[:-2]) / (times[2:] - times[:-2])[:, None]
    if not ease:
        tangents[0] = (values[1] - values[0]) / (times[1] - times[0])
        tangents[-1] = (values[-1] - values[-2]) / (times[-1] - times[-2])
    t = np.clip(query, times[0], times[-1])
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    h = times[seg + 1] - times[seg]
    s = ((t - times[seg]) / h)[:, None]
    h = h[:, None]
    return ((2 * s**3 - 3 * s**2 + 1) * values[seg] + (s**3 - 2 * s**2 + s) * h * tangents[seg]
            + (-2 * s**3 + 3 * s**2) * values[seg + 1] + (s**3 - s**2) * h * tangents[seg + 1])


def _slerp(q0: np.ndarray, q1: np.ndarray, s: float) -> np.ndarray:
    if np.dot(q0, q1) < 0:
        q1 = -q1
    cos = min(float(np.dot(q0, q1)), 1.0)
    angle = math.acos(cos)
    if angle < 1e-9:
        return q0
    return (math.sin((1 - s) * angle) * q0 + math.sin(s * angle) * q1) / math.sin(angle)


def _eased(s: float, first: bool, last: bool) -> float:
    """Time warp of a segment: zero speed at the path's first and last key, speed 1
    (as linear) at inner keys."""
    if first and last:
        return s * s * (3 - 2 * s)
    if first:
        return s * s * (2 - s)
    if last:
        return 1 - (1 - s) ** 2 * (1 + s)
    return s


def _evaluate_keyframes(spec: dict[str, Any], frames: np.ndarray,
                        focal_mm: float) -> list[Pose]:
    keys, ease = spec["keys"], spec.get("ease", True)
    times = np.array([k["frame"] for k in keys], np.float64)
    positions = _spline(times, np.array([k["position"] for k in keys]), frames, ease)
    focals = _spline(times, np.array([[k.get("focal_mm", focal_mm)] for k in keys]), frames,
                     ease)[:, 0]
    if all("look_at" in k for k in keys):
        targets = _spline(times, np.array([k["look_at"] for k in keys]), frames, ease)
        rotations = [look_rotation(p, t) for p, t in zip(positions, targets)]
    else:
        quats = [matrix_to_quat(_key_rotation(k)) for k in keys]
        rotations = []
        for frame in frames:
            t = float(np.clip(frame, times[0], times[-1]))
            seg = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0,
                              max(len(times) - 2, 0)))
            if len(times) == 1:
                rotations.append(quat_to_matrix(quats[0]))
                continue
            s = (t - times[seg]) / (times[seg + 1] - times[seg])
            if ease:
                s = _eased(s, seg == 0, seg == len(times) - 2)
            rotations.append(quat_to_matrix(_slerp(quats[seg], quats[seg + 1], s)))
    return [Pose(p, r, max(float(f), 1e-3)) for p, r, f in zip(positions, rotations, focals)]


# ----------------------------------------------------------------------------- presets
def parse_path(text: str) -> tuple[str, dict[str, float]] | Path:
    """``--path``: a keyframe file, or ``PRESET`` / ``PRESET:key=value,key=value``."""
    name, _, rest = text.partition(":")
    if name.lower() not in PRESETS:
        if Path(text).suffix.lower() in KEYFRAME_SUFFIXES or Path(text).exists():
            return Path(text)
        raise SetsplatError(f"--path {text!r} is neither a preset nor a keyframe file",
                            f"use one of {', '.join(PRESETS)} (e.g. orbit:degrees=90) or a "
                            ".json/.yaml file of keys")
    name = name.lower()
    params: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in PRESETS[name]:
            raise SetsplatError(f"{name} takes no parameter {item!r}",
                                f"{name} takes {', '.join(PRESETS[name])} as key=value")
        try:
            params[key] = float(value)
        except ValueError:
            raise SetsplatError(f"{name}: {key}={value!r} is not a number", None) from None
        if not math.isfinite(params[key]):
            raise SetsplatError(f"{name}: {key} must be finite", None)
    return name, params


def preset_spec(name: str, params: dict[str, float], geometry: SetGeometry,
                start: Pose | None = None) -> dict[str, Any]:
    """Resolve a preset against the set: the start pose, the pivot and the amount of
    the move, in metres (degrees for orbit)."""
    if name not in PRESETS:
        raise SetsplatError(f"unknown preset {name!r}", f"use one of {', '.join(PRESETS)}")
    floor, centre = geometry.floor, geometry.centre
    if start is None:
        azimuth = math.radians(params.get("azimuth", 0.0))
        distance = params.get("distance", 0.6 * geometry.reach)
        eye_height = params.get("height", min(EYE_HEIGHT_M, 0.5 * geometry.height))
        target_height = params.get("target_height", min(TARGET_HEIGHT_M, 0.4 * geometry.height))
        pivot = np.array([centre[0], floor + target_height, centre[2]])
        away = np.array([math.sin(azimuth), 0.0, math.cos(azimuth)])
        eye = np.array([centre[0], floor + eye_height, centre[2]]) + distance * away
        rotation = look_rotation(eye, pivot)
    else:
        unused = set(params) & {"azimuth", "distance", "height", "target_height"}
        if unused:
            raise SetsplatError(f"{', '.join(sorted(unused))} place a preset's start; with "
                                "--from-capture the start is the photo's pose", "leave them out")
        eye, rotation = start.position, start.rotation
        forward = -rotation[:, 2]
        ahead = max(float(np.dot(centre - eye, forward)), 0.5)
        pivot = eye + ahead * forward
    level = eye - pivot
    level[1] = 0.0
    horizontal = max(float(np.linalg.norm(level)), 1e-6)
    defaults = {"dolly-in": 0.5 * horizontal, "truck": 0.5 * horizontal,
                "crane-up": max(min(0.3 * geometry.height,
                                    float(geometry.high[1] - eye[1]) - 0.05 * geometry.height),
                                0.0),
                "orbit": 60.0, "static": 0.0}
    key = "degrees" if name == "orbit" else "amount"
    return {"kind": "preset", "preset": name, "params": dict(params),
            "start": {"position": np.asarray(eye).tolist(),
                      "rotation": matrix_to_quat(rotation).tolist()},
            "pivot": pivot.tolist(), "amount": float(params.get(key, defaults[name])),
            "ease": bool(params.get("ease", 1.0)), "set": geometry.as_dict()}


def capture_azimuth(cameras: Sequence[Camera], geometry: SetGeometry) -> float | None:
    """The side of the set the scan photos were taken from, as a preset ``azimuth`` in
    degrees (None when they surround it evenly): the splats are best seen from there."""
    if not cameras:
        return None
    centres = np.array([Pose.of_camera(c, 1.0).position for c in cameras]) - geometry.centre
    mean = centres[:, [0, 2]].mean(0)
    spread = np.linalg.norm(centres[:, [0, 2]], axis=1).mean()
    if not np.linalg.norm(mean) > 0.25 * spread:
        return None
    return math.degrees(math.atan2(mean[0], mean[1]))


def _evaluate_preset(spec: dict[str, Any], frames: np.ndarray, focal_mm: float) -> list[Pose]:
    eye0 = np.array(spec["start"]["position"], np.float64)
    rotation0 = quat_to_matrix(np.array(spec["start"]["rotation"], np.float64))
    pivot = np.array(spec["pivot"], np.float64)
    amount, name = spec["amount"], spec["preset"]
    span = max(float(frames[-1] - frames[0]), 1.0)
    poses = []
    for frame in frames:
        u = (frame - frames[0]) / span
        u = u * u * (3 - 2 * u) if spec.get("ease", True) else u
        eye, rotation = eye0, rotation0
        if name in ("dolly-in", "truck"):
            axis = -rotation0[:, 2] if name == "dolly-in" else rotation0[:, 0]
            axis = axis - axis[1] * UP
            axis = axis / max(np.linalg.norm(axis), 1e-9)
            eye = eye0 + u * amount * axis
        elif name == "crane-up":
            eye = eye0 + u * amount * UP
            rotation = look_rotation(eye, pivot)
        elif name == "orbit":
            turn = _rotation_about_up(math.radians(u * amount))
            eye = pivot + turn @ (eye0 - pivot)
            rotation = turn @ rotation0
        poses.append(Pose(eye, rotation, focal_mm))
    return poses


def _rotation_about_up(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


# ----------------------------------------------------------------------------- evaluate
def evaluate(spec: dict[str, Any], frames: Sequence[int], focal_mm: float) -> list[Pose]:
    """One pose per frame."""
    frames = np.asarray(list(frames), np.float64)
    if spec.get("kind") == "keyframes":
        return _evaluate_keyframes(spec, frames, focal_mm)
    if spec.get("kind") == "preset":
        return _evaluate_preset(spec, frames, focal_mm)
    raise SetsplatError(f"unknown camera path kind {spec.get('kind')!r}",
                        "re-make the shot with `setsplat shots new --replace`")


def describe(spec: dict[str, Any]) -> str:
    """One line for people: what the camera does."""
    if spec["kind"] == "keyframes":
        frames = [k["frame"] for k in spec["keys"]]
        return (f"{len(frames)} keyframes, frames {frames[0]:g}-{frames[-1]:g}"
                + (f" from {Path(spec['source']).name}" if spec.get("source") else ""))
    unit = "°" if spec["preset"] == "orbit" else " m"
    start = " from a scan photo" if spec.get("capture") else ""
    amount = f" {spec['amount']:.3g}{unit}" if spec["preset"] != "static" else ""
    return f"{spec['preset']}{amount}{start}"
