"""COLMAP sparse models: read (binary or text) and write (binary), without pycolmap.

The format is COLMAP's ``cameras``, ``images`` and ``points3D`` files. COLMAP 4 adds
``rigs`` and ``frames``; images still carry their own camera-from-world pose, so we read
those and write the classic three files, which COLMAP 4 (and every other reader) loads
as one rig per camera. Poses are world-to-camera with OpenCV camera axes, quaternions
w, x, y, z; pixel centres sit at +0.5 in COLMAP as in our Camera.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from setsplat.core.camera import DISTORTION_PARAMS, Camera
from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.fsutil import atomic_write
from setsplat.core.limits import check_declared
from setsplat.core.rotation import matrix_to_quat, quat_to_matrix

# COLMAP's camera model ids, names and parameter counts (colmap/sensor/models.h).
MODELS: dict[int, tuple[str, int]] = {
    0: ("SIMPLE_PINHOLE", 3), 1: ("PINHOLE", 4), 2: ("SIMPLE_RADIAL", 4), 3: ("RADIAL", 5),
    4: ("OPENCV", 8), 5: ("OPENCV_FISHEYE", 8), 6: ("FULL_OPENCV", 12), 7: ("FOV", 5),
    8: ("SIMPLE_RADIAL_FISHEYE", 4), 9: ("RADIAL_FISHEYE", 5), 10: ("THIN_PRISM_FISHEYE", 12),
    11: ("RAD_TAN_THIN_PRISM_FISHEYE", 16),
}
MODEL_IDS = {name: (model_id, count) for model_id, (name, count) in MODELS.items()}
SINGLE_FOCAL = ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL", "SIMPLE_RADIAL_FISHEYE",
                "RADIAL_FISHEYE")
_BROKEN = "the model is damaged or not a COLMAP model; re-export it from COLMAP"


@dataclass
class ColmapCamera:
    camera_id: int
    model: str
    width: int
    height: int
    params: np.ndarray  # COLMAP order: focal(s), principal point, then distortion


@dataclass
class ColmapImage:
    image_id: int
    name: str
    camera_id: int
    world_to_camera: np.ndarray  # 4x4
    xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # keypoints (N, 2)
    point3d_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # -1: none


@dataclass
class ColmapModel:
    cameras: dict[int, ColmapCamera]
    images: dict[int, ColmapImage]
    point_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    xyz: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    rgb: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tracks: list[np.ndarray] = field(default_factory=list)  # per point (L, 2): image, kp index

    @property
    def mean_track_length(self) -> float:
        return float(np.mean([len(t) for t in self.tracks])) if self.tracks else 0.0

    @property
    def mean_reprojection_error(self) -> float:
        """Mean of the points' reprojection errors (pixels), as COLMAP reports it."""
        valid = self.errors[self.errors >= 0]
        return float(valid.mean()) if len(valid) else float("nan")

    def transformed(self, scale: float, rotation: np.ndarray, translation: np.ndarray
                    ) -> ColmapModel:
        """The model after the world moves by ``x -> scale * R x + t`` (R a rotation)."""
        rotation = np.asarray(rotation, np.float64)
        images = {}
        for image_id, image in self.images.items():
            pose = image.world_to_camera.copy()
            r_old, t_old = pose[:3, :3], pose[:3, 3]
            pose[:3, :3] = r_old @ rotation.T
            pose[:3, 3] = scale * t_old - pose[:3, :3] @ translation
            images[image_id] = ColmapImage(image.image_id, image.name, image.camera_id, pose,
                                           image.xy, image.point3d_ids)
        xyz = scale * self.xyz @ rotation.T + translation
        return ColmapModel(self.cameras, images, self.point_ids, xyz, self.rgb,
                           self.errors, self.tracks)


# ----------------------------------------------------------------------------- cameras
def to_camera(cam: ColmapCamera, image: ColmapImage) -> Camera:
    """Our Camera (intrinsics + pose) for one registered image."""
    p = [float(v) for v in cam.params]
    if cam.model not in DISTORTION_PARAMS:
        raise SetsplatError(f"camera model {cam.model} is not supported",
                            f"use one of {', '.join(DISTORTION_PARAMS)}")
    if cam.model in SINGLE_FOCAL:
        fx = fy = p[0]
        cx, cy, extra = p[1], p[2], p[3:]
    else:
        fx, fy, cx, cy, extra = p[0], p[1], p[2], p[3], p[4:]
    distortion = dict(zip(DISTORTION_PARAMS[cam.model], extra))
    return Camera(cam.width, cam.height, fx, fy, cx, cy, image.world_to_camera.copy(),
                  cam.model, distortion, image.name)


def colmap_params(camera: Camera) -> tuple[str, np.ndarray]:
    """COLMAP model name and parameter vector of our Camera."""
    cx, cy = camera.cx, camera.cy
    head = [camera.fx, cx, cy] if camera.model in SINGLE_FOCAL else [camera.fx, camera.fy,
                                                                   cx, cy]
    extra = [camera.distortion.get(name, 0.0) for name in DISTORTION_PARAMS[camera.model]]
    return camera.model, np.array(head + extra, np.float64)


def cameras_of(model: ColmapModel) -> list[Camera]:
    """Our cameras for the registered images, sorted by image name."""
    return [to_camera(model.cameras[image.camera_id], image)
            for image in sorted(model.images.values(), key=lambda i: i.name)]


def model_from_cameras(cameras: list[Camera], share_intrinsics: bool = True) -> ColmapModel:
    """A COLMAP model (no points) holding these cameras; equal intrinsics share a camera."""
    colmap_cameras: dict[int, ColmapCamera] = {}
    keys: dict[tuple, int] = {}
    images = {}
    for image_id, camera in enumerate(cameras, start=1):
        name, params = colmap_params(camera)
        key = (name, camera.width, camera.height, *params.tolist())
        if key not in keys or not share_intrinsics:
            keys[key] = len(colmap_cameras) + 1
            colmap_cameras[keys[key]] = ColmapCamera(keys[key], name, camera.width,
                                                     camera.height, params)
        images[image_id] = ColmapImage(image_id, camera.name, keys[key],
                                       camera.world_to_camera.copy())
    return ColmapModel(colmap_cameras, images)


# ----------------------------------------------------------------------------- reading
def find_model(folder: str | Path) -> Path:
    """The folder that holds a model: ``folder`` itself, or ``sparse/0``, ``0``, ...."""
    folder = Path(folder)
    for candidate in (folder, folder / "sparse" / "0", folder / "sparse", folder / "0"):
        if any((candidate / f"cameras{ext}").is_file() for ext in (".bin", ".txt")):
            return candidate
    if not folder.exists():
        raise SetsplatError("no such folder", "give the folder of a COLMAP model", folder)
    raise SetsplatError("no COLMAP model here (no cameras.bin or cameras.txt)",
                        "give the folder that holds cameras, images and points3D files", folder)


def read_model(folder: str | Path) -> ColmapModel:
    """Read a COLMAP model (binary preferred, else text) from ``folder``."""
    folder = find_model(folder)
    binary = (folder / "cameras.bin").is_file()
    ext = ".bin" if binary else ".txt"
    paths = {name: folder / f"{name}{ext}" for name in ("cameras", "images", "points3D")}
    for name in ("cameras", "images"):
        if not paths[name].is_file():
            raise SetsplatError(f"{paths[name].name} is missing", _BROKEN, folder)
    try:
        if binary:
            cameras = _read_cameras_bin(paths["cameras"].read_bytes(), paths["cameras"])
            images = _read_images_bin(paths["images"].read_bytes(), paths["images"])
            points = (_read_points_bin(paths["points3D"].read_bytes(), paths["points3D"])
                      if paths["points3D"].is_file() else None)
        else:
            cameras = _read_cameras_txt(_lines(paths["cameras"]), paths["cameras"])
            images = _read_images_txt(paths["images"])
            points = (_read_points_txt(_lines(paths["points3D"]), paths["points3D"])
                      if paths["points3D"].is_file() else None)
    except OSError as exc:
        raise os_error(exc, folder, "reading the COLMAP model") from exc
    except UnicodeDecodeError:
        raise SetsplatError("a text model file is not UTF-8 text", _BROKEN, folder) from None
    for image in images.values():
        if image.camera_id not in cameras:
            raise SetsplatError(f"image {image.name} uses camera {image.camera_id}, which is "
                                "not in the cameras file", _BROKEN, folder)
    model = ColmapModel(cameras, images)
    if points is not None:
        model.point_ids, model.xyz, model.rgb, model.errors, model.tracks = points
    return model


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


class _Cursor:
    def __init__(self, data: bytes, path: Path):
        self.data, self.offset, self.path = data, 0, path

    def take(self, fmt: str) -> tuple:
        try:
            values = struct.unpack_from("<" + fmt, self.data, self.offset)
        except struct.error:
            raise SetsplatError("file ends too early", _BROKEN, self.path) from None
        self.offset += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: np.dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        end = self.offset + dtype.itemsize * count
        if end > len(self.data):
            raise SetsplatError("file ends too early", _BROKEN, self.path)
        out = np.frombuffer(self.data, dtype, count, self.offset)
        self.offset = end
        return out

    def name(self) -> str:
        end = self.data.find(b"\0", self.offset)
        if end < 0:
            raise SetsplatError("file ends too early (image name)", _BROKEN, self.path)
        text = self.data[self.offset:end].decode("utf-8", "replace")
        self.offset = end + 1
        return text


def _model(model_id: int, path: Path) -> tuple[str, int]:
    if model_id not in MODELS:
        raise SetsplatError(f"unknown camera model id {model_id}", _BROKEN, path)
    return MODELS[model_id]


def _read_cameras_bin(data: bytes, path: Path) -> dict[int, ColmapCamera]:
    cur = _Cursor(data, path)
    cameras = {}
    for _ in range(cur.take("Q")[0]):
        camera_id, model_id, width, height = cur.take("iiQQ")
        name, count = _model(model_id, path)
        cameras[camera_id] = ColmapCamera(camera_id, name, width, height,
                                          cur.array("<f8", count).copy())
    return cameras


def _pose(qvec, tvec) -> np.ndarray:
    q = np.asarray(qvec, np.float64)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-12:
        raise SetsplatError("an image has an invalid rotation", _BROKEN)
    pose = np.eye(4)
    pose[:3, :3] = quat_to_matrix(q / norm)
    pose[:3, 3] = tvec
    return pose


def _read_images_bin(data: bytes, path: Path) -> dict[int, ColmapImage]:
    cur = _Cursor(data, path)
    images = {}
    point_dtype = np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<i8")])
    for _ in range(cur.take("Q")[0]):
        image_id, qw, qx, qy, qz, tx, ty, tz, camera_id = cur.take("I7dI")
        name = cur.name()
        points = cur.array(point_dtype, cur.take("Q")[0])
        ids = np.maximum(points["id"], -1)  # COLMAP's "no point" is uint64 max: -1 here
        images[image_id] = ColmapImage(image_id, name, camera_id,
                                       _pose((qw, qx, qy, qz), (tx, ty, tz)),
                                       np.stack([points["x"], points["y"]], 1), ids)
    return images


def _read_points_bin(data: bytes, path: Path):
    cur = _Cursor(data, path)
    head = struct.Struct("<Q3d3BdQ")
    count = check_declared(cur.take("Q")[0], head.size, len(data) - cur.offset, "points",
                           path)
    ids = np.empty(count, np.int64)
    xyz = np.empty((count, 3))
    rgb = np.empty((count, 3), np.uint8)
    errors = np.empty(count)
    tracks = []
    for i in range(count):
        try:
            values = head.unpack_from(data, cur.offset)
        except struct.error:
            raise SetsplatError("file ends too early", _BROKEN, path) from None
        cur.offset += head.size
        if values[0] >= 1 << 63:
            raise SetsplatError(f"point id {values[0]} is out of range", _BROKEN, path)
        ids[i], xyz[i], rgb[i], errors[i] = values[0], values[1:4], values[4:7], values[7]
        tracks.append(cur.array("<u4", 2 * values[8]).reshape(-1, 2).astype(np.int64))
    return ids, xyz, rgb, errors, tracks


def _numbers(words: list[str], path: Path, what: str) -> list[float]:
    try:
        values = [float(w) for w in words]
    except ValueError:
        raise SetsplatError(f"{what} has a word that is not a number", _BROKEN, path) from None
    if not all(math.isfinite(v) for v in values):
        raise SetsplatError(f"{what} has a number that is not finite", _BROKEN, path)
    return values


def _read_cameras_txt(lines: list[str], path: Path) -> dict[int, ColmapCamera]:
    cameras = {}
    for line in lines:
        words = line.split()
        if len(words) < 4 or words[1] not in MODEL_IDS:
            raise SetsplatError(f"bad camera line {line[:60]!r}", _BROKEN, path)
        count = MODEL_IDS[words[1]][1]
        values = _numbers([words[0], words[2], words[3], *words[4:]], path, "a camera line")
        if len(values) != 3 + count:
            raise SetsplatError(f"camera {words[0]} ({words[1]}) needs {count} parameters",
                                _BROKEN, path)
        cameras[int(values[0])] = ColmapCamera(int(values[0]), words[1], int(values[1]),
                                               int(values[2]), np.array(values[3:]))
    return cameras


def _read_images_txt(path: Path) -> dict[int, ColmapImage]:
    # Two lines per image; the second (keypoints) may be empty, so keep blank lines.
    raw = [line.strip() for line in path.read_text().splitlines()
           if not line.lstrip().startswith("#")]
    while raw and not raw[-1]:
        raw.pop()
    images = {}
    i = 0
    while i < len(raw):
        if not raw[i]:
            i += 1
            continue
        words = raw[i].split()
        if len(words) < 10:
            raise SetsplatError(f"bad image line {raw[i][:60]!r}", _BROKEN, path)
        values = _numbers(words[:9], path, "an image line")
        name = " ".join(words[9:])
        points = raw[i + 1].split() if i + 1 < len(raw) else []
        if len(points) % 3:
            raise SetsplatError(f"the keypoints of image {values[0]:g} are not x, y, id "
                                "triples", _BROKEN, path)
        flat = np.array(_numbers(points, path, "a keypoint line")).reshape(-1, 3) if points \
            else np.zeros((0, 3))
        images[int(values[0])] = ColmapImage(int(values[0]), name, int(values[8]),
                                             _pose(values[1:5], values[5:8]), flat[:, :2],
                                             flat[:, 2].astype(np.int64))
        i += 2
    return images


def _read_points_txt(lines: list[str], path: Path):
    ids, xyz, rgb, errors, tracks = [], [], [], [], []
    for line in lines:
        values = _numbers(line.split(), path, "a point line")
        if len(values) < 8 or (len(values) - 8) % 2:
            raise SetsplatError(f"bad point line {line[:60]!r}", _BROKEN, path)
        if not all(0 <= v <= 255 for v in values[4:7]):
            raise SetsplatError(f"a point's color is not 0-255 in {line[:60]!r}", _BROKEN,
                                path)
        ids.append(int(values[0]))
        xyz.append(values[1:4])
        rgb.append(values[4:7])
        errors.append(values[7])
        tracks.append(np.array(values[8:], np.int64).reshape(-1, 2))
    return (np.array(ids, np.int64), np.array(xyz, np.float64).reshape(-1, 3),
            np.array(rgb, np.uint8).reshape(-1, 3), np.array(errors, np.float64), tracks)


# ----------------------------------------------------------------------------- writing
def write_model(folder: str | Path, model: ColmapModel) -> None:
    """Write ``cameras.bin``, ``images.bin`` and ``points3D.bin`` into ``folder``."""
    folder = Path(folder)
    parts = [struct.pack("<Q", len(model.cameras))]
    for cam in model.cameras.values():
        model_id, count = MODEL_IDS[cam.model]
        if len(cam.params) != count:
            raise SetsplatError(f"camera {cam.camera_id}: {cam.model} needs {count} parameters")
        parts.append(struct.pack("<iiQQ", cam.camera_id, model_id, cam.width, cam.height))
        parts.append(np.asarray(cam.params, "<f8").tobytes())
    _write(folder / "cameras.bin", parts)

    parts = [struct.pack("<Q", len(model.images))]
    point_dtype = np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<i8")])
    for image in model.images.values():
        q = matrix_to_quat(image.world_to_camera[:3, :3])
        parts.append(struct.pack("<I7dI", image.image_id, *q, *image.world_to_camera[:3, 3],
                                 image.camera_id))
        parts.append(image.name.encode() + b"\0")
        table = np.empty(len(image.xy), point_dtype)
        table["x"], table["y"] = image.xy[:, 0], image.xy[:, 1]
        table["id"] = image.point3d_ids
        parts.append(struct.pack("<Q", len(table)))
        parts.append(table.tobytes())
    _write(folder / "images.bin", parts)

    parts = [struct.pack("<Q", len(model.point_ids))]
    head = struct.Struct("<Q3d3BdQ")
    for i, track in enumerate(model.tracks):
        parts.append(head.pack(int(model.point_ids[i]), *model.xyz[i], *model.rgb[i],
                               float(model.errors[i]), len(track)))
        parts.append(np.asarray(track, "<u4").tobytes())
    _write(folder / "points3D.bin", parts)


def _write(path: Path, parts: list[bytes]) -> None:
    with atomic_write(path) as f:
        f.write(b"".join(parts))
