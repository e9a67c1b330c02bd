"""Guards every reader shares: paths stay inside their folder, and sizes a file declares
are checked before anything is allocated for them.

Nothing setsplat is handed is trusted (SECURITY.md): a scan folder, a checkpoint, a
glTF or a catalog may come from anyone. So a path read from a file is resolved
(symlinks included) and must stay inside the folder it came from (``inside``), and a
count or size read from a header is checked against what the file can hold and what
the machine can hold (``check_declared``, ``check_alloc``, ``check_pixels``) before an
array of that size exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from setsplat.core.errors import SetsplatError

# An image (a photo, a render, a plate) is refused above this many pixels: 100 MP
# holds every camera a set is shot with; a file claiming more is damaged or hostile.
MAX_IMAGE_PIXELS = 100_000_000
MAX_IMAGE_SIDE = 65_535
# Frames of one shot: over an hour at 24 fps.
MAX_SHOT_FRAMES = 100_000

_OUTSIDE_HINT = "a file we are given may only point at files inside its own folder"


def inside(root: str | os.PathLike, path: str | os.PathLike, what: str,
           source: str | os.PathLike | None = None,
           relative_to: str | os.PathLike | None = None) -> Path:
    """``path`` (relative to ``relative_to``, by default ``root``; or absolute) resolved
    with every symlink followed; a one-line error naming ``source`` (the file that held
    the path) unless it stays in ``root``."""
    base = Path(os.path.realpath(root))
    text = os.fspath(path)
    if "\0" in text:
        raise SetsplatError(f"{what} {text!r} contains a NUL byte", _OUTSIDE_HINT,
                            source or root)
    start = base if relative_to is None else Path(os.path.realpath(relative_to))
    resolved = Path(os.path.realpath(start / text))
    if resolved != base and base not in resolved.parents:
        raise SetsplatError(f"{what} {text!r} points outside {base}", _OUTSIDE_HINT,
                            source or root)
    return resolved


def memory_limit() -> int:
    """Bytes a reader may ask for at once: the machine's memory, or
    ``$SETSPLAT_MAX_MEMORY`` (bytes) when that is set lower (the fuzzing suite does)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 1 << 36
    override = os.environ.get("SETSPLAT_MAX_MEMORY", "")
    return min(physical, int(override)) if override.isdigit() else physical


def check_alloc(nbytes: int, what: str, path: str | os.PathLike | None = None) -> int:
    """``nbytes`` if this machine could hold it; otherwise a one-line error, before any
    of it is allocated."""
    limit = memory_limit()
    if nbytes < 0 or nbytes > limit:
        raise SetsplatError(f"{what} would need {nbytes / 1e9:.3g} GB, more than this "
                            f"machine's {limit / 1e9:.3g} GB",
                            "the file is damaged, or too large for this machine", path)
    return nbytes


def check_declared(count: int, item_bytes: int, available: int, what: str,
                   path: str | os.PathLike | None = None) -> int:
    """``count`` items of ``item_bytes`` each, declared by a header, must fit in the
    ``available`` bytes that follow it (and in memory): else the file is damaged."""
    if count < 0 or count * item_bytes > available:
        raise SetsplatError(f"the header declares {count} {what} ({count * item_bytes} "
                            f"bytes) but only {available} bytes follow",
                            "the file is damaged or cut short; copy or export it again", path)
    check_alloc(count * item_bytes, f"{count} {what}", path)
    return count


def check_pixels(width: int, height: int, what: str,
                 path: str | os.PathLike | None = None) -> tuple[int, int]:
    """A declared image size (a photo's header, a camera) within ``MAX_IMAGE_PIXELS``."""
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE) \
            or width * height > MAX_IMAGE_PIXELS:
        raise SetsplatError(f"{what} of {width}x{height} pixels is out of range",
                            f"images are limited to {MAX_IMAGE_PIXELS // 1_000_000} MP and "
                            f"{MAX_IMAGE_SIDE} pixels a side", path)
    return width, height


def open_image(path: str | os.PathLike):
    """A Pillow image whose declared size passed ``check_pixels`` (nothing is decoded
    yet): every reader of photos we are handed opens them through this."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():  # Pillow's own bomb warning: our limit decides
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(path)
    try:
        check_pixels(*image.size, "image", path)
    except SetsplatError:
        image.close()
        raise
    return image
