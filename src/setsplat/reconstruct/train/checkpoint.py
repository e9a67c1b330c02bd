"""Training checkpoints without pickle: tensors and plain JSON in a safetensors file.

A checkpoint folder may come from anyone (run folders travel between people), and
``torch.load`` of a pickle runs whatever code the file holds. So the trainer's state —
nested dicts and lists of tensors, numbers and strings — is split into named arrays
and a JSON skeleton (``core.io.tensors``); loading can only rebuild that same kind of
structure. Skeleton nodes: ``{"t": name}`` a tensor, ``{"d": [[key, node], ...]}`` a
dict (keys strings or integers, which optimizer state uses), ``{"l": [node, ...]}`` a
list, ``{"v": value}`` a JSON scalar.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from setsplat.core.errors import SetsplatError
from setsplat.core.io import tensors

FILE = "latest.safetensors"
LEGACY_FILE = "latest.pt"  # pickle: never loaded
_KEY = "setsplat.checkpoint"
_FIX_HINT = "the checkpoint is damaged or not setsplat's; train again without --resume"
_MAX_DEPTH = 32


def save(path: str | os.PathLike, state: Any) -> None:
    arrays: dict[str, np.ndarray] = {}
    skeleton = _flatten(state, arrays)
    tensors.write(path, arrays, {_KEY: json.dumps(skeleton)})


def load(path: str | os.PathLike, device: torch.device) -> Any:
    arrays, metadata = tensors.read(path)
    try:
        skeleton = json.loads(metadata[_KEY])
    except (KeyError, ValueError, RecursionError):
        raise SetsplatError("no setsplat checkpoint skeleton in the file", _FIX_HINT,
                            path) from None
    return _build(skeleton, arrays, device, path, 0)


def _flatten(value: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if isinstance(value, torch.Tensor):
        name = f"t{len(arrays)}"
        arrays[name] = value.detach().cpu().numpy()
        return {"t": name}
    if isinstance(value, dict):
        return {"d": [[k, _flatten(v, arrays)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"l": [_flatten(v, arrays) for v in value]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"v": value}
    raise TypeError(f"a checkpoint cannot hold {type(value).__name__}")


def _build(node: Any, arrays: dict[str, np.ndarray], device: torch.device, path, depth: int
           ) -> Any:
    if depth > _MAX_DEPTH or not isinstance(node, dict) or len(node) != 1:
        raise SetsplatError("the checkpoint's structure is malformed", _FIX_HINT, path)
    (kind, body), = node.items()
    if kind == "t" and isinstance(body, str) and body in arrays:
        return torch.from_numpy(arrays[body]).to(device)
    if kind == "d" and isinstance(body, list) and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int))
            for p in body):
        return {k: _build(v, arrays, device, path, depth + 1) for k, v in body}
    if kind == "l" and isinstance(body, list):
        return [_build(v, arrays, device, path, depth + 1) for v in body]
    if kind == "v" and (body is None or isinstance(body, (bool, int, float, str))):
        return body
    raise SetsplatError("the checkpoint's structure is malformed", _FIX_HINT, path)


def find(folder: str | os.PathLike) -> Path | None:
    """The checkpoint to resume from in ``folder``, None if there is none; a pickle
    checkpoint of an older setsplat is refused (loading it could run code)."""
    folder = Path(folder)
    if (folder / FILE).is_file():
        return folder / FILE
    if (folder / LEGACY_FILE).is_file():
        raise SetsplatError("this checkpoint is a pickle, which setsplat no longer loads "
                            "(a pickle can run code)",
                            "train again without --resume", folder / LEGACY_FILE)
    return None
