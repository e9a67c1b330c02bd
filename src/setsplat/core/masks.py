"""Masks: which pixels of a photo to use. One PNG per photo, white = keep.

This is the convention of nerfstudio and COLMAP: crew, stands and the scanning rig are
painted black, and neither SfM (no features there) nor training (no loss there) looks
at them. A mask is found for the photo ``day1/IMG_1.JPG`` as ``day1/IMG_1.png`` or as
COLMAP names it, ``day1/IMG_1.JPG.png``, inside the masks folder. Any 8- or 16-bit
grey, RGB or RGBA PNG works; a pixel is kept when its grey value is at least half.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from setsplat.core.errors import SetsplatError

SUFFIX = ".png"


def mask_candidates(name: str) -> list[str]:
    """Relative paths a mask of the photo ``name`` may have, preferred first."""
    path = PurePosixPath(name)
    return [str(path.with_suffix(SUFFIX)), f"{name}{SUFFIX}"]


def find_masks(folder: str | Path, names: list[str]) -> dict[str, Path]:
    """The mask file of each photo in ``names`` (paths relative to the photo folder) that
    has one; photos without a mask keep every pixel."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SetsplatError("masks folder not found",
                            "give a folder with one PNG per photo (white = keep)", folder)
    found = {}
    for name in names:
        for candidate in mask_candidates(name):
            path = folder / candidate
            if path.is_file() and folder.resolve() in path.resolve().parents:
                found[name] = path
                break
    if not found:
        raise SetsplatError("no mask in this folder has a photo's name",
                            "name each mask like its photo, with .png (IMG_1.png or "
                            "IMG_1.JPG.png for IMG_1.JPG)", folder)
    return found


def read_mask(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask as a bool array (H, W), True = keep; ``size`` (width, height) is checked."""
    from PIL import UnidentifiedImageError

    from setsplat.core.limits import open_image

    path = Path(path)
    try:
        with open_image(path) as image:
            if size is not None and image.size != tuple(size):
                raise SetsplatError(f"mask is {image.width}x{image.height} but its photo is "
                                    f"{size[0]}x{size[1]}",
                                    "give each photo a mask of its own size", path)
            grey = np.asarray(image.convert("I") if image.mode.startswith("I") else
                              image.convert("L"), dtype=np.float64)
            top = 65535.0 if image.mode.startswith("I") else 255.0
    except FileNotFoundError:
        raise SetsplatError("mask file is missing", "check the masks folder", path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SetsplatError(f"cannot read the mask ({type(exc).__name__})",
                            "give a PNG, white where the photo is used", path) from None
    return grey >= top / 2


def write_mask(path: str | Path, keep: np.ndarray) -> None:
    """Write ``keep`` as an 8-bit PNG: 255 where kept, 0 where masked."""
    from PIL import Image

    from setsplat.core.fsutil import atomic_write

    with atomic_write(path) as f:
        Image.fromarray(np.where(keep, 255, 0).astype(np.uint8), "L").save(f, "PNG")
