"""SPZ: Niantic's compressed splat format (gzip stream, quantised attributes).

Layout (all little-endian), after gunzip:

- header, 16 bytes: magic ``0x5053474e`` ("NGSP"), version u32, count u32, SH degree
  u8, fractional bits u8, flags u8 (0x1 antialiased, 0x2 extension records follow the
  header), reserved u8;
- then one block per attribute, each for all splats in turn: positions (24-bit signed
  fixed point with ``fractional bits``; version 1: float16), alphas (``sigmoid·255``),
  colors (``dc·0.15·255 + 127.5``, a wider range than the DC color so that SH can
  pull it back), scales (``(log_scale + 10)·16``), rotations (version 3: the smallest
  three components of the unit quaternion, 10 bits each with a sign, plus the index of
  the largest in the top 2 bits of a u32; versions 1–2: x, y, z as ``q·127.5 + 127.5``
  with w ≥ 0 implied), then SH bands 1.. as bytes ``x·128 + 128`` with the color the
  inner axis (r, g, b of each coefficient in turn).
- Quaternions are (x, y, z, w); the data are in the RUB frame (x right, y up, z back).

We read versions 1–3 and write version 3, keeping 6 bits of each SH byte for degree 1
and 5 bits for higher degrees (the low bits zeroed, which gzip rewards; Niantic's
reference encoder keeps 5 and 4, ``sh_bits`` chooses).
Positions use 12 fractional bits (1/4096 unit) unless the scene is too large for 24
bits, then fewer. SH degree 4 files are read with the 4th band dropped. Extension
records are skipped (SH min/max scaling from Adobe's extension is honoured). Version 4
(an uncompressed header and zstd streams) is refused with a clear message.

Round-trip tolerances (our writer, our reader), in the SPZ frame: positions within
half a fixed-point step (1/8192 unit at 12 bits); log-scales within 1/32; opacity
within half a byte (0.5/255) for opacities in 0.5/255..1-0.5/255; DC coefficients
within 0.5/(0.15·255) = 0.0131 for DC colors in about -0.33..1.33 (clipped outside);
the three stored quaternion components within 0.0007 (≤ 0.3° of rotation once the
fourth is rebuilt); SH band 1 within 2.5/128 = 0.020 and bands 2–3 within 4.5/128 =
0.035 for coefficients in -1..127/128 (clipped outside; with ``sh_bits`` b the bound is
(2^(7-b) + 0.5)/128). SPZ carries no units, so a scene read from it is marked
``unscaled``.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from setsplat.core import sh as shlib
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import SPZ, convert_scene
from setsplat.core.fsutil import atomic_write
from setsplat.core.io._common import logit, read_bytes, sigmoid, to_byte
from setsplat.core.scene import GaussianScene

MAGIC = 0x5053474E
VERSION = 3
HEADER = struct.Struct("<IIIBBBB")
FRAME = SPZ
FLAG_ANTIALIASED = 0x1
FLAG_EXTENSIONS = 0x2
COLOR_SCALE = 0.15
FRACTIONAL_BITS = 12
# Bits kept for SH degree 1 and for higher degrees: one more each than Niantic's
# reference encoder (5, 4), which costs about a third more bytes and halves the SH error
# (benchmarks/README.md). Decoders need no hint: the bytes keep their meaning.
SH_BITS = (6, 5)
_EXT_SH_QUANTIZATION = 0xADBE0001
_SQRT_HALF = np.sqrt(0.5)
_FIX_HINT = "the file is damaged or not an SPZ file; export it again"
_MAX_POINTS = 1 << 28


def _round(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (the reference encoder's rounding)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# ----------------------------------------------------------------------------- writing
def _fractional_bits(means: np.ndarray) -> int:
    largest = float(np.abs(means).max(initial=0.0))
    bits = FRACTIONAL_BITS
    while bits > 0 and largest * (1 << bits) >= (1 << 23) - 1:
        bits -= 1
    if largest * (1 << bits) >= (1 << 23) - 1:
        raise SetsplatError(f"positions reach {largest:.4g} units: too far for SPZ's 24-bit "
                            "coordinates", "crop the scene (--crop) or export in larger units")
    return bits


def _pack_positions(means: np.ndarray, bits: int) -> np.ndarray:
    fixed = _round(means.astype(np.float64) * (1 << bits)).astype("<i4")
    return fixed.reshape(-1, 1).view(np.uint8)[:, :3]


def _pack_rotations(quats_wxyz: np.ndarray) -> np.ndarray:
    q = np.roll(quats_wxyz.astype(np.float64), -1, axis=1)  # x, y, z, w
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    largest = np.argmax(np.abs(q), axis=1)
    q *= np.where(np.take_along_axis(q, largest[:, None], 1) < 0, -1.0, 1.0)
    words = largest.astype(np.uint32)
    for i in range(4):
        value = q[:, i]
        magnitude = np.minimum(np.floor(511 * np.abs(value) / _SQRT_HALF + 0.5), 511)
        packed = ((value < 0).astype(np.uint32) << 9) | magnitude.astype(np.uint32)
        words = np.where(largest == i, words, (words << 10) | packed)
    return words.astype("<u4").reshape(-1, 1).view(np.uint8)


def _quantise_sh(rest: np.ndarray, bits: tuple[int, int]) -> np.ndarray:
    """SH bands 1.. (N, K-1, 3) to bytes, color inner; only the top ``bits`` of each
    byte vary (degree 1, higher degrees), the rest are zeroed for gzip."""
    if not all(1 <= b <= 8 for b in bits):
        raise SetsplatError(f"SPZ SH bits {bits} out of range", "use 1 to 8 bits")
    q = _round(rest.astype(np.float64) * 128) + 128
    buckets = np.full(rest.shape[1], 1 << (8 - bits[1]))
    buckets[:3] = 1 << (8 - bits[0])
    b = buckets[None, :, None]
    q = (q + b // 2) // b * b
    return np.clip(q, 0, 255).astype(np.uint8).reshape(len(rest), -1)


def encode(scene: GaussianScene, sh_bits: tuple[int, int] = SH_BITS) -> bytes:
    """Uncompressed SPZ (version 3) of ``scene``, converted to the RUB frame."""
    if scene.frame != FRAME:
        scene = convert_scene(scene, FRAME)
    n = len(scene)
    bits = _fractional_bits(scene.means)
    flags = FLAG_ANTIALIASED if scene.meta.get("antialiased") else 0
    blocks = [
        HEADER.pack(MAGIC, VERSION, n, scene.sh_degree, bits, flags, 0),
        _pack_positions(scene.means, bits),
        to_byte(sigmoid(scene.opacity_logits) * 255),
        to_byte(_round(scene.sh[:, 0].astype(np.float64) * (COLOR_SCALE * 255) + 127.5)),
        to_byte(_round((scene.log_scales.astype(np.float64) + 10) * 16)),
        _pack_rotations(scene.quats),
        _quantise_sh(scene.sh[:, 1:], sh_bits),
    ]
    return b"".join(np.ascontiguousarray(b).tobytes() if isinstance(b, np.ndarray) else b
                    for b in blocks)


def write(path: str | os.PathLike, scene: GaussianScene, *, level: int = 6,
          sh_bits: tuple[int, int] = SH_BITS) -> None:
    """Write ``scene`` as SPZ version 3 (gzip ``level``), atomically. ``sh_bits`` trades
    size for view-dependent color: (8, 8) keeps every SH byte; decoders need no hint."""
    data = gzip.compress(encode(scene, sh_bits), compresslevel=level, mtime=0)
    with atomic_write(path) as f:
        f.write(data)


# ----------------------------------------------------------------------------- reading
def _unpack_positions(raw: np.ndarray, n: int, version: int, bits: int) -> np.ndarray:
    if version == 1:
        return raw.view("<f2").reshape(n, 3).astype(np.float32)
    b = raw.reshape(n * 3, 3).astype(np.int32)
    fixed = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    fixed = np.where(fixed & 0x800000, fixed - (1 << 24), fixed)
    return (fixed.astype(np.float64) / (1 << bits)).reshape(n, 3)


def _unpack_rotations(raw: np.ndarray, n: int, version: int) -> np.ndarray:
    """Quaternions (N, 4) w, x, y, z."""
    if version < 3:
        xyz = raw.reshape(n, 3).astype(np.float64) / 127.5 - 1
        w = np.sqrt(np.maximum(0.0, 1 - (xyz**2).sum(1)))
        return np.concatenate([w[:, None], xyz], 1)
    words = raw.view("<u4").astype(np.uint32)
    largest = (words >> 30).astype(np.int64)
    q = np.zeros((n, 4))
    for i in (3, 2, 1, 0):
        value = _SQRT_HALF * (words & 511).astype(np.float64) / 511
        value = np.where((words >> 9) & 1, -value, value)
        q[:, i] = np.where(largest == i, 0.0, value)
        words = np.where(largest == i, words, words >> 10)
    rest = (q**2).sum(1)
    np.put_along_axis(q, largest[:, None], np.sqrt(np.maximum(0.0, 1 - rest))[:, None], 1)
    return np.roll(q, 1, axis=1)


def _sh_range(extensions: bytes) -> tuple[float, float]:
    """SH decode range: -1..1 unless Adobe's quantisation record carries min and max."""
    if len(extensions) >= 14 and struct.unpack_from("<I", extensions)[0] == _EXT_SH_QUANTIZATION:
        tail = extensions[14:18]
        if len(extensions) == 14 or (len(tail) == 4 and struct.unpack("<I", tail)[0] >> 16
                                     == 0xADBE):
            low, high = struct.unpack_from("<ff", extensions, 6)
            if high > low:
                return low, high
    return -1.0, 1.0


def decode(data: bytes, path: str | os.PathLike | None = None) -> GaussianScene:
    """A scene (in the SPZ frame) from uncompressed SPZ bytes."""
    if len(data) < HEADER.size:
        raise SetsplatError("file is too short for an SPZ header", _FIX_HINT, path)
    magic, version, n, degree, bits, flags, _ = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SetsplatError("not an SPZ file (wrong magic number)", _FIX_HINT, path)
    if not 1 <= version <= VERSION:
        raise SetsplatError(f"SPZ version {version} is not supported (we read 1–3)",
                            "re-export it with SPZ version 3", path)
    if degree > 4 or n > _MAX_POINTS:
        raise SetsplatError(f"bad SPZ header (SH degree {degree}, {n} splats)", _FIX_HINT, path)
    coeffs = (degree + 1) ** 2 - 1
    sizes = [n * (6 if version == 1 else 9), n, 3 * n, 3 * n, n * (4 if version >= 3 else 3),
             n * coeffs * 3]
    payload = sum(sizes)
    extra = len(data) - HEADER.size - payload
    if extra < 0:
        raise SetsplatError(f"file is truncated: the header declares {n} splats but the data "
                            "stops early", "the file was cut short; copy or export it again",
                            path)
    if extra and not flags & FLAG_EXTENSIONS:
        raise SetsplatError(f"{extra} bytes follow the {n} declared splats", _FIX_HINT, path)
    sh_low, sh_high = _sh_range(data[HEADER.size:HEADER.size + extra])
    offset = HEADER.size + extra
    blocks = []
    for size in sizes:
        blocks.append(np.frombuffer(data, np.uint8, size, offset))
        offset += size
    positions, alphas, colors, scales, rotations, sh_bytes = blocks
    sh = np.zeros((n, 1 + min(coeffs, 15), 3))
    sh[:, 0] = (colors.reshape(n, 3) / 255 - 0.5) / COLOR_SCALE
    if coeffs:
        rest = sh_bytes.reshape(n, coeffs, 3)[:, :15].astype(np.float64)
        if (sh_low, sh_high) == (-1.0, 1.0):
            sh[:, 1:] = (rest - 128) / 128
        else:
            sh[:, 1:] = sh_low + rest / 255 * (sh_high - sh_low)
    meta = {"unscaled": True, "antialiased": bool(flags & FLAG_ANTIALIASED)}
    if degree > shlib.MAX_DEGREE:
        meta["dropped_sh_degree_4"] = True
    try:
        return GaussianScene(
            means=_unpack_positions(positions, n, version, bits),
            quats=_unpack_rotations(rotations, n, version),
            log_scales=scales.reshape(n, 3) / 16 - 10,
            opacity_logits=logit(alphas / 255),
            sh=sh,
            frame=FRAME,
            meta=meta,
        )
    except SetsplatError as exc:
        raise SetsplatError(exc.what, _FIX_HINT, path) from None


def read(path: str | os.PathLike) -> GaussianScene:
    """Read SPZ versions 1–3 into a scene in the SPZ (RUB) frame, marked unscaled."""
    raw = read_bytes(path, _FIX_HINT)
    if raw[:4] == struct.pack("<I", MAGIC):
        raise SetsplatError("this is an SPZ version 4 file (zstd container), which we do not "
                            "read yet", "re-export it as SPZ version 3 (gzip)", path)
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise SetsplatError(f"not a readable gzip stream ({exc})", _FIX_HINT, path) from None
    return decode(data, path)
