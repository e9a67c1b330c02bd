"""nerfstudio / instant-ngp ``transforms.json``: camera poses and intrinsics.

Each frame's ``transform_matrix`` is camera-to-world with OpenGL camera axes (x right,
y up, z back); intrinsics (``fl_x fl_y cx cy w h``, distortion ``k1 k2 k3 k4 p1 p2``,
``camera_model``) sit at the top level, in a frame, or both (a frame's own win).
instant-ngp files may give only ``camera_angle_x``. Principal points use COLMAP's
pixel-centre convention (+0.5), like nerfstudio and our Camera.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import axes_basis
from setsplat.core.jsonio import write_json
from setsplat.core.limits import inside, open_image

GL_CAMERA_AXES = "RUB"
_HINT = "give a nerfstudio or instant-ngp transforms.json"
_DISTORTION = ("k1", "k2", "k3", "k4", "p1", "p2")


def _gl_to_cv() -> np.ndarray:
    """Maps OpenGL camera coordinates to OpenCV ones (flips y and z)."""
    return axes_basis("RDF") @ axes_basis(GL_CAMERA_AXES).T


def read_transforms(path: str | Path, root: str | Path | None = None
                    ) -> tuple[list[Camera], list[Path]]:
    """Cameras (world-to-camera, OpenCV axes) and the image path of each frame, which
    must lie inside ``root`` (default: the file's own folder; the user may name another,
    the folder of the photos)."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SetsplatError("no such file", "check the path", path) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise SetsplatError(f"cannot read it as JSON ({exc})", _HINT, path) from None
    frames = data.get("frames") if isinstance(data, dict) else None
    if not isinstance(frames, list) or not frames:
        raise SetsplatError("no 'frames' list", _HINT, path)
    cameras, images = [], []
    for index, frame in enumerate(frames):
        if not isinstance(frame, dict) or "file_path" not in frame:
            raise SetsplatError(f"frame {index} has no file_path", _HINT, path)
        image = _image_path(root, str(frame["file_path"]), path)
        try:
            cameras.append(_camera({**data, **frame}, image))
        except (KeyError, TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise SetsplatError(f"frame {index} ({frame['file_path']}): {exc}", _HINT,
                                path) from None
        except SetsplatError as exc:
            raise SetsplatError(f"frame {index}: {exc.what}", _HINT, path) from None
        images.append(image)
    return cameras, images


def _image_path(root: Path, file_path: str, source: Path) -> Path:
    """The frame's image (relative to ``transforms.json``), which must stay in ``root``."""
    image = inside(root, file_path, "frame file_path", source, relative_to=source.parent)
    try:
        if not image.suffix and not image.exists():  # NeRF-synthetic style: no extension
            for ext in (".png", ".jpg", ".jpeg"):
                if image.with_suffix(ext).exists():
                    return inside(root, image.with_suffix(ext), "frame file_path", source)
    except OSError as exc:  # a name too long for the filesystem, ...
        raise SetsplatError(f"frame file_path cannot be used ({exc.strerror})", _HINT,
                            source) from None
    return image


def _camera(entry: dict[str, Any], image: Path) -> Camera:
    c2w = np.asarray(entry["transform_matrix"], np.float64)
    if c2w.shape == (3, 4):
        c2w = np.vstack([c2w, [0, 0, 0, 1]])
    if c2w.shape != (4, 4) or not np.isfinite(c2w).all():
        raise ValueError("transform_matrix must be a finite 4x4 matrix")
    rotation = c2w[:3, :3] @ _gl_to_cv().T  # camera (OpenCV axes) to world
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-4):
        raise ValueError("transform_matrix has scale or shear; it must be a rigid pose")
    w2c = np.eye(4)
    w2c[:3, :3] = rotation.T
    w2c[:3, 3] = -rotation.T @ c2w[:3, 3]
    width, height = _size(entry, image)
    if "fl_x" in entry:
        fx = float(entry["fl_x"])
        fy = float(entry.get("fl_y", fx))
    elif "camera_angle_x" in entry:
        fx = 0.5 * width / math.tan(0.5 * float(entry["camera_angle_x"]))
        fy = (0.5 * height / math.tan(0.5 * float(entry["camera_angle_y"]))
              if "camera_angle_y" in entry else fx)
    else:
        raise KeyError("no focal length (fl_x or camera_angle_x)")
    cx = float(entry.get("cx", width / 2))
    cy = float(entry.get("cy", height / 2))
    model, distortion = _distortion(entry)
    return Camera(width, height, fx, fy, cx, cy, w2c, model, distortion, image.name)


def _size(entry: dict[str, Any], image: Path) -> tuple[int, int]:
    if "w" in entry and "h" in entry:
        return int(entry["w"]), int(entry["h"])
    try:
        with open_image(image) as im:
            return im.size
    except (OSError, SetsplatError):
        raise ValueError("no w/h given and the image cannot be opened to read its "
                         "size") from None


def _distortion(entry: dict[str, Any]) -> tuple[str, dict[str, float]]:
    values = {k: float(entry.get(k, 0.0)) for k in _DISTORTION}
    if str(entry.get("camera_model", "")).upper() == "OPENCV_FISHEYE":
        return "OPENCV_FISHEYE", {k: values[k] for k in ("k1", "k2", "k3", "k4")}
    if values["k3"] or values["k4"]:
        return "FULL_OPENCV", {k: values[k] for k in ("k1", "k2", "p1", "p2", "k3", "k4")}
    if any(values[k] for k in ("k1", "k2", "p1", "p2")):
        return "OPENCV", {k: values[k] for k in ("k1", "k2", "p1", "p2")}
    return "PINHOLE", {}


def write_transforms(path: str | Path, cameras: list[Camera], image_dir: str = "images",
                     meta: dict[str, Any] | None = None, masks: dict[str, str] | None = None
                     ) -> None:
    """transforms.json for nerfstudio: per-frame intrinsics, OpenGL camera-to-world, and
    ``mask_path`` for the images ``masks`` maps to a mask file."""
    frames = []
    for camera in cameras:
        c2w = camera.camera_to_world
        c2w[:3, :3] = c2w[:3, :3] @ _gl_to_cv()
        frame = {"file_path": f"{image_dir}/{camera.name}", "transform_matrix": c2w.tolist(),
                 "w": camera.width, "h": camera.height, "fl_x": camera.fx, "fl_y": camera.fy,
                 "cx": camera.cx, "cy": camera.cy}
        if camera.model == "OPENCV_FISHEYE":
            frame["camera_model"] = "OPENCV_FISHEYE"
        elif camera.distortion:
            frame["camera_model"] = "OPENCV"
        frame.update({k: v for k, v in camera.distortion.items() if k in _DISTORTION})
        if masks and camera.name in masks:
            frame["mask_path"] = masks[camera.name]
        frames.append(frame)
    data = {"camera_model": "OPENCV", **(meta or {}), "frames": frames}
    write_json(path, data, indent=1)
