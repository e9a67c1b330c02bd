"""JSON files as setsplat writes them: numpy values and dataclasses encoded, the file
written aside and renamed (``fsutil.atomic_write``), so a reader never sees half of it."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from setsplat.core.fsutil import atomic_write


def json_default(value: Any) -> Any:
    """Numpy values, dataclasses (and anything else, as text) for ``json.dumps``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2,
               sort_keys: bool = False, fsync: bool = False) -> None:
    """``data`` as JSON at ``path``, whole or not at all."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=json_default)
    with atomic_write(path, fsync=fsync) as f:
        f.write((text + "\n").encode())
