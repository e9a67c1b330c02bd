"""Named arrays and plain metadata in one file, with no code in it: the safetensors
layout, which we read and write ourselves (training checkpoints use it).

Layout: an unsigned 64-bit little-endian header length N, then N bytes of UTF-8 JSON,
then the data. The JSON maps each array's name to ``{"dtype": "F32", "shape": [..],
"data_offsets": [begin, end]}`` (offsets into the data, which the arrays cover end to
end without gaps or overlaps, in order) and may hold ``"__metadata__"``, an object of
strings. Arrays are C-ordered little-endian. Unlike pickle, reading can only ever
produce arrays and strings; every offset and shape is checked against the file's size
before an array is made.
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np

from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import atomic_write
from setsplat.core.io._common import read_bytes
from setsplat.core.limits import check_declared

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
          "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
          "BOOL": "?"}
_CODES = {np.dtype(v): k for k, v in DTYPES.items()}
_MAX_HEADER = 100 << 20
_FIX_HINT = "the file is damaged or not a safetensors file; make it again"
METADATA = "__metadata__"


def encode(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The file's bytes: ``arrays`` in the given order, ``metadata`` as strings."""
    header: dict[str, object] = {METADATA: dict(metadata)} if metadata else {}
    blobs, offset = [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        code = _CODES.get(array.dtype.newbyteorder("<") if array.dtype.itemsize > 1
                          else array.dtype)
        if code is None:
            raise SetsplatError(f"array {name!r} has type {array.dtype}, which the file "
                                "cannot hold", "convert it to a plain number type")
        data = array.astype(DTYPES[code], copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write(path: str | os.PathLike, arrays: dict[str, np.ndarray],
          metadata: dict[str, str] | None = None) -> None:
    """Write the file atomically (and durably: checkpoints outlive crashes)."""
    data = encode(arrays, metadata)
    with atomic_write(path, fsync=True) as f:
        f.write(data)


def decode(data: bytes, path: str | os.PathLike | None = None
           ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(arrays by name, metadata) from the file's bytes; anything malformed is a
    one-line error."""
    if len(data) < 8:
        raise SetsplatError("file is too short for a safetensors header", _FIX_HINT, path)
    (length,) = struct.unpack_from("<Q", data)
    if length > min(_MAX_HEADER, len(data) - 8):
        raise SetsplatError(f"header length {length} does not fit the file", _FIX_HINT, path)
    try:
        header = json.loads(data[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SetsplatError("the header is not JSON", _FIX_HINT, path) from None
    if not isinstance(header, dict):
        raise SetsplatError("the header is not a JSON object", _FIX_HINT, path)
    metadata = header.pop(METADATA, None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(v, str) for v in metadata.values()):
        raise SetsplatError("__metadata__ must map names to strings", _FIX_HINT, path)
    body = memoryview(data)[8 + length:]
    arrays, end = {}, 0
    entries = sorted(header.items(), key=lambda item: _offsets(item, path)[0])
    for name, entry in entries:
        begin, stop = _offsets((name, entry), path)
        kind, shape = _kind_and_shape(name, entry, path)
        if begin != end:
            raise SetsplatError(f"array {name!r} does not start where the one before it "
                                "ends", _FIX_HINT, path)
        check_declared(math.prod(shape), kind.itemsize, len(body) - begin,
                       f"values of array {name!r}", path)
        if stop - begin != math.prod(shape) * kind.itemsize:
            raise SetsplatError(f"array {name!r}: its offsets do not match its shape",
                                _FIX_HINT, path)
        arrays[name] = np.frombuffer(body, kind, math.prod(shape), begin).reshape(shape).copy()
        end = stop
    if end != len(body):
        raise SetsplatError(f"{len(body) - end} bytes follow the last array", _FIX_HINT, path)
    return {name: arrays[name] for name in header}, metadata


def _offsets(item: tuple[str, object], path) -> tuple[int, int]:
    name, entry = item
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(v) is int for v in offsets) and 0 <= offsets[0] <= offsets[1]):
        raise SetsplatError(f"array {name!r} has no valid data_offsets", _FIX_HINT, path)
    return offsets[0], offsets[1]


def _kind_and_shape(name: str, entry: dict, path) -> tuple[np.dtype, tuple[int, ...]]:
    kind, shape = entry.get("dtype"), entry.get("shape")
    if kind not in DTYPES:
        raise SetsplatError(f"array {name!r} has an unknown dtype {kind!r}", _FIX_HINT, path)
    if not (isinstance(shape, list) and len(shape) <= 16
            and all(type(v) is int and v >= 0 for v in shape)):
        raise SetsplatError(f"array {name!r} has a bad shape", _FIX_HINT, path)
    return np.dtype(DTYPES[kind]), tuple(shape)


def read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(arrays by name, metadata) of a safetensors file."""
    return decode(read_bytes(path, _FIX_HINT), path)
