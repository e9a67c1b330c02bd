"""Camera metadata from EXIF: make, model, lens, time, orientation, intrinsics prior.

The focal length in pixels comes from ``FocalLengthIn35mmFilm`` (by the frame
diagonal, as cameras compute it) or else from ``FocalLength`` and the sensor's focal
plane resolution. Without either there is no prior and SfM estimates the focal length.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}  # focal plane resolution units

# EXIF tag numbers (PIL.ExifTags.Base) and the Exif sub-IFD pointer
MAKE, MODEL, ORIENTATION, DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
EXIF_IFD = 0x8769
DATETIME_ORIGINAL, SUBSEC_ORIGINAL, OFFSET_ORIGINAL = 0x9003, 0x9291, 0x9011
FOCAL_LENGTH, FOCAL_35MM = 0x920A, 0xA405
FOCAL_PLANE_X_RES, FOCAL_PLANE_UNIT, PIXEL_X_DIMENSION = 0xA20E, 0xA210, 0xA002


@dataclass
class CameraInfo:
    make: str | None = None
    model: str | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    sensor_width_mm: float | None = None
    timestamp: str | None = None
    orientation: int = 1

    @property
    def camera_id(self) -> str:
        """Make and model, or 'unknown camera'."""
        name = " ".join(v for v in (self.make, self.model) if v)
        return name or "unknown camera"

    def focal_px(self, width: int, height: int, rotated: bool) -> tuple[float, str] | None:
        """Focal length in pixels for an image of ``width`` x ``height`` (after any
        rotation; ``rotated`` says the sensor's x axis is now the image's y), and where it
        came from."""
        if self.focal_length_35mm:
            return (self.focal_length_35mm * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM,
                    "exif FocalLengthIn35mmFilm (by the diagonal)")
        if self.focal_length_mm and self.sensor_width_mm:
            sensor_px = height if rotated else width
            return (self.focal_length_mm / self.sensor_width_mm * sensor_px,
                    "exif FocalLength and focal plane resolution")
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_camera_info(image) -> CameraInfo:
    """Metadata of a Pillow image (any format Pillow reads EXIF from)."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(EXIF_IFD)
    except Exception:  # malformed EXIF must not cost the image; Pillow raises many types
        return CameraInfo()

    def text(value) -> str | None:
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        value = str(value).strip("\x00 ") if value is not None else ""
        return value or None

    info = CameraInfo(make=text(exif.get(MAKE)), model=text(exif.get(MODEL)))
    orientation = exif.get(ORIENTATION, 1)
    info.orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 \
        else 1
    info.focal_length_mm = _positive(sub.get(FOCAL_LENGTH))
    info.focal_length_35mm = _positive(sub.get(FOCAL_35MM))
    resolution = _positive(sub.get(FOCAL_PLANE_X_RES))
    unit = _UNIT_MM.get(sub.get(FOCAL_PLANE_UNIT, 2))
    pixels = _positive(sub.get(PIXEL_X_DIMENSION)) or image.width
    if resolution and unit:
        info.sensor_width_mm = pixels / resolution * unit
    info.timestamp = _timestamp(text(sub.get(DATETIME_ORIGINAL)) or text(exif.get(DATETIME)),
                                text(sub.get(SUBSEC_ORIGINAL)), text(sub.get(OFFSET_ORIGINAL)))
    return info


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _timestamp(stamp: str | None, subsec: str | None, offset: str | None) -> str | None:
    """EXIF 'YYYY:MM:DD HH:MM:SS' (+ subseconds, offset) as ISO 8601, or None."""
    if not stamp:
        return None
    try:
        when = datetime.strptime(stamp[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = when.isoformat()
    if subsec and subsec.isdigit():
        iso += "." + subsec
    if offset and len(offset) == 6 and offset[0] in "+-":
        iso += offset
    return iso
