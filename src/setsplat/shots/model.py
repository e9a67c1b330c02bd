"""A shot: a named camera path in a set asset, with its frame range, rate and lens.

Names are ``EPISODE_SHOT`` (``EP01_SH010``): the part before the first underscore is
the episode a timeline gathers. Frames are VFX-style, 1001 on at 24 fps by default.
The lens is a focal length on a filmback (sensor) whose aspect is the image's, so
pixels are square and the horizontal and vertical fields of view agree with USD's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from setsplat.core.errors import SetsplatError
from setsplat.core.limits import MAX_SHOT_FRAMES, check_pixels

FRAME_START = 1001
FRAMES = 120  # 5 s at 24 fps, a common length for AI video models
FPS = 24.0
FOCAL_MM = 35.0
FILMBACK_WIDTH_MM = 36.0
RESOLUTION = (1280, 720)

_NAME = re.compile(r"([A-Za-z][A-Za-z0-9]{0,31})_[A-Za-z0-9][A-Za-z0-9_]{0,62}")
_NAME_HINT = "name shots EPISODE_SHOT with letters, digits and underscores, e.g. EP01_SH010"


def check_shot_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SetsplatError(f"shot name {name!r} is not allowed", _NAME_HINT)
    return name


def episode_of(name: str) -> str:
    return check_shot_name(name).split("_", 1)[0]


def natural_key(name: str) -> list[Any]:
    """Sort key that puts SH2 before SH10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class Lens:
    focal_mm: float = FOCAL_MM
    filmback_mm: tuple[float, float] = (FILMBACK_WIDTH_MM, FILMBACK_WIDTH_MM * 9 / 16)

    def intrinsics(self, width: int, height: int,
                   focal_mm: float | None = None) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) in pixels for an image of this size (centred principal point,
        pixel centres at i + 0.5)."""
        focal = self.focal_mm if focal_mm is None else focal_mm
        return (focal * width / self.filmback_mm[0], focal * height / self.filmback_mm[1],
                width / 2, height / 2)


def check_aspect(lens: Lens, width: int, height: int) -> None:
    """The filmback and the image must have the same shape (square pixels)."""
    film = lens.filmback_mm[0] / lens.filmback_mm[1]
    if not math.isclose(film, width / height, rel_tol=0.01):
        raise SetsplatError(
            f"the filmback {lens.filmback_mm[0]:g}x{lens.filmback_mm[1]:g} mm is "
            f"{film:.3f}:1 but the image {width}x{height} is {width / height:.3f}:1",
            f"give a filmback of the image's shape, e.g. --filmback "
            f"{lens.filmback_mm[0]:g}x{lens.filmback_mm[0] * height / width:.4g}")


@dataclass(frozen=True)
class Shot:
    """What the catalog keeps for a shot. ``asset`` is pinned (``Set_Office@3``) so a
    new version of the set never moves a shot's camera; ``path`` is the camera path
    spec (see ``shots.paths``), JSON-able."""

    name: str
    asset: str
    path: dict[str, Any]
    frame_start: int = FRAME_START
    frame_end: int = FRAME_START + FRAMES - 1
    fps: float = FPS
    lens: Lens = field(default_factory=Lens)
    resolution: tuple[int, int] = RESOLUTION
    notes: str = ""

    def __post_init__(self) -> None:
        check_shot_name(self.name)
        if self.frame_end < self.frame_start:
            raise SetsplatError(f"shot {self.name}: frame range {self.frame_start}-"
                                f"{self.frame_end} is empty", "end at or after the start")
        if self.frame_end - self.frame_start >= MAX_SHOT_FRAMES:
            raise SetsplatError(f"shot {self.name}: {self.frame_end - self.frame_start + 1} "
                                "frames is too many",
                                f"a shot has at most {MAX_SHOT_FRAMES} frames; split it")
        check_pixels(*self.resolution, f"shot {self.name}: resolution")
        if not (self.fps > 0 and self.lens.focal_mm > 0 and min(self.lens.filmback_mm) > 0):
            raise SetsplatError(f"shot {self.name}: rate, focal length and filmback must be "
                                "positive", None)
        if min(self.resolution) < 2:
            raise SetsplatError(f"shot {self.name}: resolution {self.resolution} is too small",
                                "give at least 2x2 pixels")
        check_aspect(self.lens, *self.resolution)

    @property
    def episode(self) -> str:
        return episode_of(self.name)

    @property
    def frames(self) -> range:
        return range(self.frame_start, self.frame_end + 1)

    @property
    def frame_count(self) -> int:
        return self.frame_end - self.frame_start + 1

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "episode": self.episode, "asset": self.asset,
                "path": self.path, "frame_start": self.frame_start,
                "frame_end": self.frame_end, "frames": self.frame_count, "fps": self.fps,
                "duration_s": self.duration_s, "focal_mm": self.lens.focal_mm,
                "filmback_mm": list(self.lens.filmback_mm),
                "resolution": list(self.resolution), "notes": self.notes}
