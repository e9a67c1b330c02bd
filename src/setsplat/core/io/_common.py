"""Helpers the codecs share: reading a whole file with good errors, the opacity
activation in both directions and byte rounding."""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Callable

import numpy as np

from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.limits import check_inflation

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


def gunzip(raw: bytes, header_size: int, declared_size: Callable[[bytes], int],
           fix_hint: str, path: str | os.PathLike | None = None) -> bytes:
    """A gzip stream (one or more members) inflated no further than its header says:
    ``declared_size(first header_size bytes)`` is the total the format declares, checked
    against what deflate can produce and what memory holds before it is reached. A
    header that declares nothing more (a bad one) comes back alone, for the format's
    reader to say what is wrong with it."""
    out, limit, pending = bytearray(), header_size, raw
    inflater = zlib.decompressobj(31)
    try:
        while True:
            out += inflater.decompress(pending, limit + 1 - len(out))
            pending = inflater.unconsumed_tail
            if limit == header_size and len(out) >= header_size:
                declared = declared_size(bytes(out[:header_size]))
                if declared <= header_size:
                    return bytes(out[:header_size])
                limit = check_inflation(declared, len(raw), "decompressed data", path)
                continue
            if len(out) > limit:
                raise SetsplatError("the data goes on past the size its header declares",
                                    fix_hint, path)
            if inflater.eof and inflater.unused_data:  # another gzip member follows
                pending, inflater = inflater.unused_data, zlib.decompressobj(31)
            elif inflater.eof:
                return bytes(out)
            elif not pending:
                out += inflater.flush(limit + 1 - len(out))
                if not inflater.eof:
                    raise SetsplatError("the gzip stream is cut short",
                                        "the file was cut short; copy or export it again",
                                        path)
    except zlib.error as exc:
        raise SetsplatError(f"not a readable gzip stream ({exc})", fix_hint, path) from None


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def logit(opacity: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(opacity, dtype=np.float64), _EDGE, 1 - _EDGE)
    return np.log(p / (1 - p))


def to_byte(values: np.ndarray) -> np.ndarray:
    """Round to the nearest of 0..255 (values already scaled to that range)."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
