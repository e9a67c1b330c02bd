"""Helpers the codecs share: reading a whole file with good errors, the opacity
activation in both directions and byte rounding."""

from __future__ import annotations

import os

import numpy as np

from setsplat.core.errors import SetsplatError, os_error

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


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def logit(opacity: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(opacity, dtype=np.float64), _EDGE, 1 - _EDGE)
    return np.log(p / (1 - p))


def to_byte(values: np.ndarray) -> np.ndarray:
    """Round to the nearest of 0..255 (values already scaled to that range)."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
