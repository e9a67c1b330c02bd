"""Helpers the codecs share: reading a whole file with good errors, the opacity
activation in both directions and byte rounding."""

from __future__ import annotations

import os
import stat

import numpy as np

from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.limits import check_alloc

# Opacity bytes decode to at least half a step away from 0 and 1, so that the logit
# stays finite: a byte of 0 or 255 becomes a logit of about ∓6.2.
_EDGE = 0.5 / 255


def read_bytes(path: str | os.PathLike, fix_hint: str) -> bytes:
    """The whole file; a missing, unreadable or empty file is a one-line error."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise os_error(exc, path, "reading") from exc
    if not data:
        raise SetsplatError("file is empty (0 bytes)", fix_hint, path)
    return data


def read_file_bytes(path: str | os.PathLike, limit: int, fix_hint: str) -> bytes:
    """At most ``limit`` bytes of a regular file (not a device or a pipe, which could
    never end); a one-line error if it holds fewer."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a pipe must not block
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SetsplatError("is not a regular file", fix_hint, path)
            data = f.read(limit)
    except OSError as exc:
        raise os_error(exc, path, "reading") from exc
    if len(data) < limit:
        raise SetsplatError(f"holds {len(data)} bytes, fewer than the {limit} declared",
                            fix_hint, path)
    return data


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def logit(opacity: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(opacity, dtype=np.float64), _EDGE, 1 - _EDGE)
    return np.log(p / (1 - p))


def to_byte(values: np.ndarray) -> np.ndarray:
    """Round to the nearest of 0..255 (values already scaled to that range)."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


# Decoders refuse a header that declares more than this before allocating anything.
MAX_SPLATS = 1 << 28
MAX_DECODED_BYTES = 1 << 36


def declared_size(count: int, item_bytes: int, path: str | os.PathLike | None, *,
                  limit: int = MAX_DECODED_BYTES, what: str = "splats") -> int:
    """The bytes ``count`` declared items of ``item_bytes`` each decode to; a count or size
    no honest file could have (beyond ``MAX_SPLATS`` or ``limit``) is refused here, before
    a decoder allocates it."""
    size = count * item_bytes
    if not 0 <= count <= MAX_SPLATS or size > min(limit, MAX_DECODED_BYTES):
        raise SetsplatError(f"the header declares {count:,} {what} ({size:,} bytes decoded), "
                            "more than a file of this size can hold",
                            "the file is damaged or not what its name says; export it again",
                            path)
    return check_alloc(size, f"{count:,} {what}", path)
