"""What SfM reads: a capture folder (``capture.json``) or any folder of photos.

A capture lists the images to use and, per image, an intrinsics prior from EXIF; a
plain folder is every photo in it (or in its ``images/``), in name order, and
pycolmap reads EXIF itself. Photos are grouped into cameras by size and focal prior:
COLMAP's single-camera mode would otherwise drop every photo whose size differs from
the first one's without a word.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from setsplat.core.errors import SetsplatError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}
CAPTURE_FILE = "capture.json"


@dataclass
class CaptureImages:
    source: Path  # what the user named
    image_dir: Path  # image names are relative to this
    names: list[str]
    sizes: dict[str, tuple[int, int]]
    focal_priors: dict[str, float] = field(default_factory=dict)  # pixels, from EXIF
    unreadable: dict[str, str] = field(default_factory=dict)  # name -> why
    is_capture: bool = False

    def groups(self) -> list[list[str]]:
        """Images that can share one camera: same size, same focal prior (±1%)."""
        keys: dict[tuple, list[str]] = {}
        for name in self.names:
            focal = self.focal_priors.get(name)
            key = (*self.sizes[name], None if focal is None else round(math.log(focal, 1.01)))
            keys.setdefault(key, []).append(name)
        return sorted(keys.values(), key=len, reverse=True)


def open_capture(path: str | Path) -> CaptureImages:
    """The images of a capture folder, a ``capture.json`` or a plain folder of photos."""
    path = Path(path)
    if path.is_file() and path.name == CAPTURE_FILE:
        return _from_manifest(path)
    if not path.exists():
        raise SetsplatError("no such folder", "give a capture folder or a folder of photos",
                            path)
    if not path.is_dir():
        raise SetsplatError("is not a folder", "give a capture folder or a folder of photos",
                            path)
    if (path / CAPTURE_FILE).is_file():
        return _from_manifest(path / CAPTURE_FILE)
    image_dir = path / "images" if _photos(path / "images") else path
    names = _photos(image_dir)
    return _with_sizes(CaptureImages(path, image_dir, names, {}))


def _photos(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def _from_manifest(manifest: Path) -> CaptureImages:
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise SetsplatError(f"cannot read the capture manifest ({exc})",
                            "run 'setsplat capture ingest' again", manifest) from None
    root = manifest.parent
    entries = data.get("images") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SetsplatError("capture manifest has no 'images' list",
                            "run 'setsplat capture ingest' again", manifest)
    use = data.get("use")
    names, priors = [], {}
    for entry in entries:
        name = _entry_name(entry)
        if name is None or not _selected(entry, use):
            continue
        names.append(name)
        focal = _focal_prior(entry)
        if focal:
            priors[name] = focal
    image_dir = root / data.get("images_dir", "") if isinstance(data.get("images_dir"),
                                                                str) else root
    capture = CaptureImages(manifest, image_dir, names, {}, priors, is_capture=True)
    return _with_sizes(capture)


def _entry_name(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        for key in ("path", "file", "name"):
            if isinstance(entry.get(key), str):
                return entry[key]
    return None


def _selected(entry: Any, use: Any) -> bool:
    if isinstance(use, list):
        return _entry_name(entry) in use or (isinstance(entry, dict)
                                             and entry.get("name") in use)
    return not (isinstance(entry, dict) and entry.get("use") is False)


def _focal_prior(entry: Any) -> float | None:
    if not isinstance(entry, dict):
        return None
    for key in ("intrinsics", "prior", "intrinsics_prior", "exif"):
        value = entry.get(key)
        if isinstance(value, dict):
            for focal_key in ("focal_px", "fx", "f"):
                if isinstance(value.get(focal_key), (int, float)) and value[focal_key] > 0:
                    return float(value[focal_key])
    return None


def _with_sizes(capture: CaptureImages) -> CaptureImages:
    from PIL import Image

    kept = []
    for name in capture.names:
        try:
            with Image.open(capture.image_dir / name) as image:
                capture.sizes[name] = image.size
            kept.append(name)
        except FileNotFoundError:
            capture.unreadable[name] = "file is missing"
        except OSError as exc:
            capture.unreadable[name] = f"cannot be read ({exc})"
    capture.names = kept
    if len(kept) < 3:
        found = f"found {len(kept)} readable photo{'s' * (len(kept) != 1)}"
        raise SetsplatError(f"SfM needs at least 3 photos, {found}",
                            "give a folder with overlapping photos of the scene "
                            "(20 or more is better)", capture.source)
    return capture
