"""capture.json: what a capture folder holds and where each image came from.

A capture folder is ``capture.json`` + ``images/`` (+ ``masks/`` when the photos came
with masks, + ``qc.json`` and the contact sheet once checked). Later stages read
``Capture.selected()``: the images QC did not cull (or every image, after ``check
--keep-all``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from setsplat.core.errors import SetsplatError
from setsplat.core.jsonio import write_json
from setsplat.core.limits import inside

MANIFEST = "capture.json"
FORMAT_VERSION = 1


@dataclass
class CaptureImage:
    name: str  # relative to the capture folder, e.g. "images/IMG_0001.jpg"
    source: str  # relative to the capture's source folder, or the video's file name
    sha256: str  # of the source file
    width: int
    height: int
    source_size: tuple[int, int]  # upright, before any --max-size
    bit_depth: int  # of the source; stored images are always 8-bit RGB
    camera: dict[str, Any]  # make, model, focal lengths, sensor width, orientation
    intrinsics_prior: dict[str, Any] | None  # fx, fy, cx, cy (COLMAP pixel centres: +0.5), source
    timestamp: str | None
    timestamp_source: str | None
    frame: dict[str, Any] | None = None  # for video: index and time in seconds
    scores: dict[str, float] = field(default_factory=dict)
    value_scale: int = 255  # the source value that became 255 (4095 for 12-bit data, ...)
    use: bool = True
    flags: list[str] = field(default_factory=list)
    mask: str | None = None  # "masks/<name>.png" (white = keep), relative to the capture

    @property
    def camera_id(self) -> str:
        name = " ".join(v for v in (self.camera.get("make"), self.camera.get("model")) if v)
        return name or "unknown camera"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["source_size"] = list(self.source_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaptureImage:
        data = dict(data)
        for key, kinds in _FIELD_TYPES.items():
            if key in data and not isinstance(data[key], kinds):
                raise TypeError(f"image field {key!r} has the wrong type")
        data["source_size"] = tuple(data["source_size"])
        return cls(**data)


_NONE = type(None)
_FIELD_TYPES = {"name": str, "source": str, "sha256": str, "width": int, "height": int,
                "source_size": list, "bit_depth": int, "camera": dict,
                "intrinsics_prior": (dict, _NONE), "timestamp": (str, _NONE),
                "timestamp_source": (str, _NONE), "frame": (dict, _NONE), "scores": dict,
                "value_scale": int, "use": bool, "flags": list}


@dataclass
class Capture:
    root: Path
    kind: str  # "photos" or "video"
    source: str
    images: list[CaptureImage]
    skipped: list[dict[str, str]] = field(default_factory=list)  # source, reason
    checked: bool = False
    keep_all: bool = False

    def selected(self) -> list[CaptureImage]:
        """The images for SfM: everything QC did not cull."""
        return [im for im in self.images if im.use]

    def path(self, image: CaptureImage) -> Path:
        return self.root / image.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "source": self.source,
            "checked": self.checked,
            "keep_all": self.keep_all,
            "images": [im.to_dict() for im in self.images],
            "skipped": self.skipped,
        }

    def save(self) -> None:
        write_json(self.root / MANIFEST, self.to_dict(), indent=1)


def read_capture(folder: str | Path) -> Capture:
    """Load a capture folder's manifest, with one-line errors for anything else."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not folder.exists():
        raise SetsplatError("no such file or folder", "check the path", folder)
    if not manifest.is_file():
        raise SetsplatError(f"not a capture folder (no {MANIFEST})",
                            "make one with 'setsplat capture ingest SRC --out CAPTURE'", folder)
    try:
        data = json.loads(manifest.read_text())
        if not isinstance(data["kind"], str) or not isinstance(data.get("skipped", []), list):
            raise TypeError("kind or skipped has the wrong type")
        images = [CaptureImage.from_dict(im) for im in data["images"]]
        for image in images:  # names come from the file: they must stay in the capture
            inside(folder, image.name, "image name", manifest)
        return Capture(folder, data["kind"], data["source"], images,
                       data.get("skipped", []), data.get("checked", False),
                       data.get("keep_all", False))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise SetsplatError(f"damaged manifest ({type(exc).__name__}: {exc})",
                            "ingest the source again", manifest) from None
