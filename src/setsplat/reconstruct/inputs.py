"""What SfM reads: a capture folder (``capture.json``) or any folder of photos.

A capture (``setsplat capture ingest``) lists the images QC kept and, per image, an
intrinsics prior from EXIF; a plain folder is every photo in it (or in its
``images/``), in name order, and pycolmap reads EXIF itself. Photos are grouped
into cameras by size and focal prior: COLMAP's single-camera mode would otherwise
drop every photo whose size differs from the first one's without a word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from setsplat.core.errors import SetsplatError
from setsplat.core.limits import open_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}
MANIFEST = "capture.json"  # setsplat.capture.manifest.MANIFEST, without importing capture


@dataclass
class CaptureImages:
    source: Path  # what the user named
    image_dir: Path  # image names are relative to this
    names: list[str]
    sizes: dict[str, tuple[int, int]]
    focal_priors: dict[str, float] = field(default_factory=dict)  # pixels, from EXIF
    unreadable: dict[str, str] = field(default_factory=dict)  # name -> why
    masks: dict[str, Path] = field(default_factory=dict)  # name -> PNG, white = keep
    is_capture: bool = False
    ordered: bool = False  # frames of a video

    def groups(self) -> list[list[str]]:
        """Images that can share one camera: same size, same focal prior (±1%)."""
        keys: dict[tuple, list[str]] = {}
        for name in self.names:
            focal = self.focal_priors.get(name)
            key = (*self.sizes[name], None if focal is None else round(math.log(focal, 1.01)))
            keys.setdefault(key, []).append(name)
        return sorted(keys.values(), key=len, reverse=True)


def open_capture(path: str | Path, masks: str | Path | None = None) -> CaptureImages:
    """The images of a capture folder (its selected images), a ``capture.json``, or a
    plain folder of photos; ``masks`` is a folder of one PNG per photo (white = keep),
    which a capture folder brings along by itself."""
    path = Path(path)
    if path.is_file() and path.name == MANIFEST:
        path = path.parent
    if not path.exists():
        raise SetsplatError("no such folder", "give a capture folder or a folder of photos",
                            path)
    if not path.is_dir():
        raise SetsplatError("is not a folder", "give a capture folder or a folder of photos",
                            path)
    if (path / MANIFEST).is_file():
        images = _from_manifest(path)
    else:
        image_dir = path / "images" if _photos(path / "images") else path
        images = _checked(CaptureImages(path, image_dir, _photos(image_dir), {}))
    if masks is not None:
        from setsplat.core.masks import find_masks

        images.masks = find_masks(masks, images.names)
    return images


def _photos(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def _from_manifest(folder: Path) -> CaptureImages:
    from setsplat.capture.manifest import read_capture

    capture = read_capture(folder)
    selected = capture.selected()
    # Names are relative to the capture ("images/a.jpg"); SfM's are relative to images/.
    names = [im.name for im in selected]
    root = folder / "images" if all(n.startswith("images/") for n in names) else folder
    names = [str(Path(folder / n).relative_to(root)) for n in names]
    images = CaptureImages(folder, root, names, {}, is_capture=True,
                           ordered=capture.kind == "video")
    for name, image in zip(names, selected):
        if image.mask:
            images.masks[name] = _inside(folder, image.mask)
        prior = image.intrinsics_prior or {}
        if isinstance(prior.get("fx"), (int, float)) and prior["fx"] > 0:
            images.focal_priors[name] = float(prior["fx"])
    return _checked(images)


def _inside(folder: Path, name: str) -> Path:
    path = folder / name
    if folder.resolve() not in path.resolve().parents:
        raise SetsplatError(f"capture.json names a mask outside the capture ({name})",
                            "ingest the photos again", folder / MANIFEST)
    return path


def _checked(capture: CaptureImages) -> CaptureImages:
    """Read each image's size (header only) and, for a plain folder, its EXIF focal
    length (so a zoom lens's photos get cameras of their own); drop and remember the
    unreadable ones."""
    from setsplat.capture.exif import read_camera_info

    kept = []
    for name in capture.names:
        try:
            with open_image(capture.image_dir / name) as image:
                capture.sizes[name] = image.size
                if not capture.is_capture:
                    focal = read_camera_info(image).focal_px(*image.size, rotated=False)
                    if focal:
                        capture.focal_priors[name] = focal[0]
            kept.append(name)
        except FileNotFoundError:
            capture.unreadable[name] = "file is missing"
        except OSError as exc:
            capture.unreadable[name] = f"cannot be read ({exc})"
        except SetsplatError as exc:
            capture.unreadable[name] = exc.what
    capture.names = kept
    if len(kept) < 3:
        found = f"found {len(kept)} readable photo{'s' * (len(kept) != 1)}"
        raise SetsplatError(f"SfM needs at least 3 photos, {found}",
                            "give a folder with overlapping photos of the scene "
                            "(20 or more is better)", capture.source)
    return capture
