"""Reading photos of any kind Pillow knows into upright 8-bit RGB, and saying why not.

16-bit images (PNG, TIFF) are scaled to 8 bits by their container's range: values up
to 4095 are taken as 12-bit data, anything above as 16-bit, so a capture keeps one
consistent exposure scale instead of per-image stretching. EXIF orientation is applied.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from setsplat.capture.exif import CameraInfo, read_camera_info
from setsplat.core.errors import SetsplatError
from setsplat.core.limits import MAX_IMAGE_PIXELS, open_image

# Pillow's transposes that undo EXIF orientations 2..8
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


class BadImage(Exception):
    """A file that is not a usable image; the message says why, for the report."""


@dataclass
class LoadedImage:
    pixels: np.ndarray  # (H, W, 3) uint8, upright
    format: str
    mode: str
    bit_depth: int
    value_scale: int  # what the brightest source value maps to 255 from
    camera: CameraInfo

    @property
    def rotated(self) -> bool:
        """The image's x axis is the sensor's y axis (EXIF orientations 5..8)."""
        return self.camera.orientation >= 5


def load_image(path: str | Path) -> LoadedImage:
    """Decode ``path`` fully (truncation shows up here), raising BadImage on failure."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BadImage(f"cannot read ({exc.strerror})") from None
    if size == 0:
        raise BadImage("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with open_image(path) as image:
                rawmode = _rawmode(image)  # before EXIF: reading a PNG's EXIF loads it
                camera = read_camera_info(image)
                image.load()
                pixels, depth, scale = _to_rgb8(image, rawmode, path)
                fmt, mode = image.format or "?", image.mode
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can read") from None
    except (Image.DecompressionBombError, SetsplatError):
        raise BadImage("image is implausibly large (decompression bomb guard: "
                       f"{MAX_IMAGE_PIXELS // 1_000_000} MP at most)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"damaged or truncated image ({_first_line(exc)})") from None
    if pixels.shape[0] < 16 or pixels.shape[1] < 16:
        raise BadImage(f"too small ({pixels.shape[1]}x{pixels.shape[0]})")
    return LoadedImage(apply_orientation(pixels, camera.orientation), fmt, mode, depth, scale,
                       camera)


def _rawmode(image) -> str:
    tile = getattr(image, "tile", None) or []
    if tile and isinstance(tile[0].args, (tuple, str)):
        args = tile[0].args
        return args if isinstance(args, str) else str(args[0]) if args else ""
    return ""


def _to_rgb8(image, rawmode: str, path: Path) -> tuple[np.ndarray, int, int]:
    """(pixels, source bit depth, the source value that maps to 255)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image).astype(np.float32)
        return _scale16(values), 16, _range(values)
    if image.mode == "RGB" and "16" in rawmode:
        # Pillow keeps only the high byte of 48-bit RGB; OpenCV gives all 16 bits
        import cv2

        values = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        if values is None or values.dtype != np.uint16 or values.ndim != 3:
            raise ValueError("16-bit RGB data could not be decoded")
        values = values[..., 2::-1].astype(np.float32)  # BGR(A) -> RGB
        return _scale16(values), 16, _range(values)
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, np.float32))
        return _gray_to_rgb(np.clip(values, 0, 1) * 255), 32, 1
    return np.asarray(image.convert("RGB")), 8, 255


def _range(values: np.ndarray) -> int:
    return 4095 if float(values.max()) <= 4095 else 65535


def _scale16(values: np.ndarray) -> np.ndarray:
    scaled = np.clip(values * np.float32(255 / _range(values)), 0, 255)
    return _gray_to_rgb(scaled) if scaled.ndim == 2 else np.floor(scaled + 0.5).astype(np.uint8)


def _gray_to_rgb(values: np.ndarray) -> np.ndarray:
    gray = np.floor(values + 0.5).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF ``orientation`` upright."""
    from PIL import Image

    if orientation not in _TRANSPOSE:
        return pixels
    return np.asarray(Image.fromarray(pixels).transpose(Image.Transpose[_TRANSPOSE[orientation]]))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
