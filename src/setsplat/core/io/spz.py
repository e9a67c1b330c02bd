"""SPZ: Niantic's compressed splat format (quantised attributes in gzip or zstd).

The attribute blocks, each for all splats in turn (all little-endian):
positions (24-bit signed fixed point with ``fractional bits``; version 1: float16),
alphas (``sigmoid·255``), colors (``dc·0.15·255 + 127.5``, a wider range than the DC
color so that SH can pull it back), scales (``(log_scale + 10)·16``), rotations
(versions 3–4: the smallest three components of the unit quaternion, 10 bits each with a
sign, plus the index of the largest in the top 2 bits of a u32; versions 1–2: x, y, z as
``q·127.5 + 127.5`` with w ≥ 0 implied), then SH bands 1.. as bytes ``x·128 + 128`` with
the color the inner axis (r, g, b of each coefficient in turn).
Quaternions are (x, y, z, w); the data are in the RUB frame (x right, y up, z back).

Two containers:

- versions 1–3: one gzip stream holding a 16-byte header — magic ``0x5053474e``
  ("NGSP"), version u32, count u32, SH degree u8, fractional bits u8, flags u8 (0x1
  antialiased, 0x2 extension records follow), reserved u8 — then the blocks, then any
  extension records;
- version 4: a plain 32-byte header — magic, version u32, count u32, SH degree u8,
  fractional bits u8, flags u8, stream count u8, table offset u32, 12 zero bytes —
  then any extension records up to the table offset, the table (per stream: compressed
  and decompressed size, u64 each), and each non-empty block as its own zstd frame.

Extension records are ``type u32, length u32, payload``. Adobe's coordinate-system record
(``0xADBE0003``, a u32 naming the axes the data are stored in: 1 LDB, 2 RDB, 3 LUB, 4 RUB,
5 LDF, 6 RDF, 7 LUF, 8 RUF, 9 LFD, 10 RFD, 11 LFU, 12 RFU, 13 LBD, 14 RBD, 15 LBU, 16 RBU)
is honoured: such data are converted to RUB on reading. Other records are skipped.

We read versions 1–4 and write 2, 3 and 4 (4 by default, as Niantic's library, gsply
and splat-transform do; Unity's UnityGaussianSplatting reads only 2). The writer keeps
6 bits of each SH byte for degree 1 and 5 bits for higher degrees (the low bits zeroed,
which the compressors reward; Niantic's reference encoder keeps 5 and 4, ``sh_bits``
chooses). Positions use 12 fractional bits (1/4096 unit)
unless the scene is too large for 24 bits, then fewer. SH degree 4 files are read with
the 4th band dropped. Declared sizes are checked against what the file can hold before
anything is decompressed.

Round-trip tolerances (our writer, our reader), in the SPZ frame: positions within
half a fixed-point step (1/8192 unit at 12 bits); log-scales within 1/32; opacity
within half a byte (0.5/255) for opacities in 0.5/255..1-0.5/255; DC coefficients
within 0.5/(0.15·255) = 0.0131 for DC colors in about -0.33..1.33 (clipped outside);
versions 3–4: the three stored quaternion components within 0.0007 (≤ 0.3° of rotation
once the fourth is rebuilt); version 2: x, y, z within 0.5/127.5 (w rebuilt, coarse when
small); SH band 1 within 2.5/128 = 0.020 and bands 2–3 within 4.5/128 = 0.035 for
coefficients in -1..127/128 (clipped outside; with ``sh_bits`` b the bound is
(2^(7-b) + 0.5)/128). SPZ carries no units: a scene read from it is marked ``unscaled``
unless the manifest an export wrote beside it lists the file (see ``_manifest``).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from setsplat.core import sh as shlib
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import SPZ, Frame, convert_scene
from setsplat.core.fsutil import atomic_write
from setsplat.core.io._common import declared_size, logit, read_bytes, sigmoid, to_byte
from setsplat.core.io._manifest import add_export_facts
from setsplat.core.scene import GaussianScene

MAGIC = 0x5053474E
VERSION = 4
VERSIONS_WRITTEN = (2, 3, 4)
LEGACY_HEADER = struct.Struct("<IIIBBBB")
HEADER = struct.Struct("<IIIBBBBI12x")
TABLE_ENTRY = struct.Struct("<QQ")
FRAME = SPZ
FLAG_ANTIALIASED = 0x1
FLAG_EXTENSIONS = 0x2
COLOR_SCALE = 0.15
FRACTIONAL_BITS = 12
# Niantic's library compresses each stream at level 12; level 9 writes files about 2 %
# larger in less than half the time (benchmarks/README.md, export).
ZSTD_LEVEL = 9
# Bits kept for SH degree 1 and for higher degrees: one more each than Niantic's
# reference encoder (5, 4), which costs about a third more bytes and halves the SH error
# (benchmarks/README.md). Decoders need no hint: the bytes keep their meaning.
SH_BITS = (6, 5)
_GZIP_MAGIC = b"\x1f\x8b"
# No gzip (deflate) stream expands more than 1032-fold; honest zstd streams of SPZ blocks
# stay far below that too (positions hardly compress), so it bounds both containers.
_MAX_EXPANSION = 1032
_MAX_EXTENSION_BYTES = 1 << 20
_EXT_COORDINATE_SYSTEM = 0xADBE0003
_STORED_AXES = ("", "LDB", "RDB", "LUB", "RUB", "LDF", "RDF", "LUF", "RUF", "LFD", "RFD", "LFU",
                "RFU", "LBD", "RBD", "LBU", "RBU")
_SQRT_HALF = np.sqrt(0.5)
_FIX_HINT = "the file is damaged or not an SPZ file; export it again"


def _round(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (the reference encoder's rounding)."""
    return np.trunc(x + np.copysign(0.5, x))


def _block_sizes(n: int, version: int, degree: int) -> list[int]:
    """Bytes of each attribute block: positions, alphas, colors, scales, rotations, SH."""
    coeffs = (degree + 1) ** 2 - 1
    return [n * (6 if version == 1 else 9), n, 3 * n, 3 * n, n * (4 if version >= 3 else 3),
            n * coeffs * 3]


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


def _pack_rotations(quats_wxyz: np.ndarray, version: int) -> np.ndarray:
    q = np.roll(quats_wxyz.astype(np.float64), -1, axis=1)  # x, y, z, w
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    if version < 3:  # x, y, z of the quaternion with w >= 0
        return to_byte(_round(q[:, :3] * np.where(q[:, 3:] < 0, -127.5, 127.5) + 127.5))
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
    byte vary (degree 1, higher degrees), the rest are zeroed for the compressor."""
    if not all(1 <= b <= 8 for b in bits):
        raise SetsplatError(f"SPZ SH bits {bits} out of range", "use 1 to 8 bits")
    # float32 and int16 throughout: x·128 is exact in float32, and the SH block is the
    # bulk of the file (45 values a splat at degree 3)
    scaled = np.clip(rest.astype(np.float32, copy=False) * np.float32(128), -200, 200)
    q = _round(scaled).astype(np.int16) + 128
    buckets = np.full(rest.shape[1], 1 << (8 - bits[1]), np.int16)
    buckets[:3] = 1 << (8 - bits[0])
    b = buckets[None, :, None]
    q = (q + b // 2) // b * b
    return np.clip(q, 0, 255).astype(np.uint8).reshape(len(rest), rest[0].size if len(rest) else 0)


def _check_version(version: int) -> None:
    if version not in VERSIONS_WRITTEN:
        raise SetsplatError(f"SPZ version {version} cannot be written",
                            f"use one of {', '.join(map(str, VERSIONS_WRITTEN))}")


def _blocks(scene: GaussianScene, version: int, sh_bits: tuple[int, int]
            ) -> tuple[tuple[int, int, int], list[bytes]]:
    """(count, fractional bits, flags) and the six attribute blocks of ``scene``, in the
    SPZ frame."""
    _check_version(version)
    if scene.frame != FRAME:
        scene = convert_scene(scene, FRAME)
    bits = _fractional_bits(scene.means)
    flags = FLAG_ANTIALIASED if scene.meta.get("antialiased") else 0
    blocks = [
        _pack_positions(scene.means, bits),
        to_byte(sigmoid(scene.opacity_logits) * 255),
        to_byte(_round(scene.sh[:, 0].astype(np.float64) * (COLOR_SCALE * 255) + 127.5)),
        to_byte(_round((scene.log_scales.astype(np.float64) + 10) * 16)),
        _pack_rotations(scene.quats, version),
        _quantise_sh(scene.sh[:, 1:], sh_bits),
    ]
    return (len(scene), bits, flags), [np.ascontiguousarray(b).tobytes() for b in blocks]


def encode(scene: GaussianScene, sh_bits: tuple[int, int] = SH_BITS, *,
           version: int = 3) -> bytes:
    """The uncompressed inside of a gzip SPZ (version 2 or 3) of ``scene``, converted to
    the RUB frame."""
    if version == 4:
        raise SetsplatError("SPZ version 4 has no single uncompressed form",
                            "use encode_v4 (or write) for version 4")
    (n, bits, flags), blocks = _blocks(scene, version, sh_bits)
    return LEGACY_HEADER.pack(MAGIC, version, n, scene.sh_degree, bits, flags, 0) + \
        b"".join(blocks)


def _zstd_compress(block: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(block)


def encode_v4(scene: GaussianScene, sh_bits: tuple[int, int] = SH_BITS) -> bytes:
    """A version 4 file of ``scene``: header, table, one zstd frame per non-empty block
    (compressed side by side: zstandard releases the GIL)."""
    (n, bits, flags), blocks = _blocks(scene, 4, sh_bits)
    blocks = [b for b in blocks if b]
    with ThreadPoolExecutor(max(1, min(len(blocks), os.cpu_count() or 1))) as pool:
        frames = list(pool.map(_zstd_compress, blocks))
    header = HEADER.pack(MAGIC, 4, n, scene.sh_degree, bits, flags, len(frames), HEADER.size)
    table = b"".join(TABLE_ENTRY.pack(len(f), len(b)) for f, b in zip(frames, blocks))
    return header + table + b"".join(frames)


def write(path: str | os.PathLike, scene: GaussianScene, *, version: int = VERSION,
          level: int = 6, sh_bits: tuple[int, int] = SH_BITS) -> None:
    """Write ``scene`` as SPZ ``version`` (2, 3: gzip at ``level``; 4: zstd), atomically.
    ``sh_bits`` trades size for view-dependent color: (8, 8) keeps every SH byte;
    decoders need no hint."""
    if version == 4:
        data = encode_v4(scene, sh_bits)
    else:
        data = gzip.compress(encode(scene, sh_bits, version=version), compresslevel=level,
                             mtime=0)
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


def _check_header(version: int, degree: int, path: str | os.PathLike | None) -> None:
    if not 1 <= version <= VERSION:
        raise SetsplatError(f"SPZ version {version} is not supported (we read 1–{VERSION})",
                            f"re-export it with SPZ version {VERSION}", path)
    if degree > 4:
        raise SetsplatError(f"bad SPZ header (SH degree {degree})", _FIX_HINT, path)


def _stored_frame(records: bytes) -> Frame:
    """The frame the data are stored in: RUB, unless Adobe's coordinate-system record
    among the extension ``records`` names other axes."""
    offset = 0
    while offset + 8 <= len(records):
        kind, length = struct.unpack_from("<II", records, offset)
        value = records[offset + 8:offset + 8 + length]
        if kind == _EXT_COORDINATE_SYSTEM and len(value) >= 4:
            code = struct.unpack_from("<I", value)[0]
            axes = _STORED_AXES[code] if code < len(_STORED_AXES) else ""
            if axes and axes != FRAME.axes:
                return Frame(f"spz-{axes.lower()}", axes, 1.0, f"SPZ stored {axes}")
        offset += 8 + length
    return FRAME


def _scene(blocks: list[np.ndarray], n: int, version: int, degree: int, bits: int,
           flags: int, path: str | os.PathLike | None, records: bytes = b"") -> GaussianScene:
    """A scene (in the SPZ frame) from the six attribute blocks and the extension
    records."""
    positions, alphas, colors, scales, rotations, sh_bytes = blocks
    coeffs = (degree + 1) ** 2 - 1
    sh = np.empty((n, 1 + min(coeffs, 15), 3), np.float32)  # float32: the scene's own type
    sh[:, 0] = (colors.reshape(n, 3) / 255 - 0.5) / COLOR_SCALE
    if coeffs:
        rest = sh_bytes.reshape(n, coeffs, 3)[:, :15]
        np.multiply(rest, np.float32(1 / 128), out=sh[:, 1:], casting="unsafe")
        sh[:, 1:] -= 1
    meta = {"unscaled": True, "antialiased": bool(flags & FLAG_ANTIALIASED)}
    if degree > shlib.MAX_DEGREE:
        meta["dropped_sh_degree_4"] = True
    stored = _stored_frame(records) if flags & FLAG_EXTENSIONS else FRAME
    try:
        scene = GaussianScene(
            means=_unpack_positions(positions, n, version, bits),
            quats=_unpack_rotations(rotations, n, version),
            log_scales=scales.reshape(n, 3) / 16 - 10,
            opacity_logits=logit(alphas / 255),
            sh=sh,
            frame=stored,
            meta=meta,
        )
    except SetsplatError as exc:
        raise SetsplatError(exc.what, _FIX_HINT, path) from None
    return scene if stored is FRAME else convert_scene(scene, FRAME)


def _block_sizes(n: int, version: int, degree: int) -> list[int]:
    """Bytes of each attribute block: positions, alphas, colors, scales, rotations, SH."""
    return [n * (6 if version == 1 else 9), n, 3 * n, 3 * n, n * (4 if version >= 3 else 3),
            n * ((degree + 1) ** 2 - 1) * 3]


def decode(data: bytes, path: str | os.PathLike | None = None) -> GaussianScene:
    """A scene (in the SPZ frame) from the uncompressed inside of a gzip SPZ (1–3)."""
    if len(data) < LEGACY_HEADER.size:
        raise SetsplatError("file is too short for an SPZ header", _FIX_HINT, path)
    magic, version, n, degree, bits, flags, _ = LEGACY_HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SetsplatError("not an SPZ file (wrong magic number)", _FIX_HINT, path)
    _check_header(version, degree, path)
    if version == 4:
        raise SetsplatError("an SPZ version 4 header inside gzip", _FIX_HINT, path)
    sizes = _block_sizes(n, version, degree)
    extra = len(data) - LEGACY_HEADER.size - sum(sizes)
    if extra < 0:
        raise SetsplatError(f"file is truncated: the header declares {n} splats but the data "
                            "stops early", "the file was cut short; copy or export it again",
                            path)
    if extra and not flags & FLAG_EXTENSIONS:
        raise SetsplatError(f"{extra} bytes follow the {n} declared splats", _FIX_HINT, path)
    offsets = np.cumsum([LEGACY_HEADER.size, *sizes])
    blocks = [np.frombuffer(data, np.uint8, size, offset) for size, offset in zip(sizes, offsets)]
    return _scene(blocks, n, version, degree, bits, flags, path, data[offsets[-1]:])


def _gunzip(raw: bytes, path: str | os.PathLike) -> bytes:
    """The inside of a gzip SPZ, decompressed no further than its header declares."""
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        head = stream.decompress(raw, LEGACY_HEADER.size)
        if len(head) < LEGACY_HEADER.size:
            raise SetsplatError("file is too short for an SPZ header", _FIX_HINT, path)
        magic, version, n, degree, *_ = LEGACY_HEADER.unpack_from(head)
        if magic == MAGIC:
            _check_header(version, degree, path)
        item = sum(_block_sizes(1, version, degree)) if magic == MAGIC else 0
        size = declared_size(n, item, path, limit=_MAX_EXPANSION * len(raw))
        body = stream.decompress(stream.unconsumed_tail, size + _MAX_EXTENSION_BYTES)
    except zlib.error as exc:
        raise SetsplatError(f"not a readable gzip stream ({exc})", _FIX_HINT, path) from None
    if stream.unconsumed_tail:
        raise SetsplatError(f"more data than the {n:,} splats the header declares",
                            _FIX_HINT, path)
    if not stream.eof:
        raise SetsplatError("the gzip stream is cut short (truncated)",
                            "the file was cut short; copy or export it again", path)
    return head + body


def _read_v4(raw: bytes, path: str | os.PathLike) -> GaussianScene:
    """A version 4 file: checks every declared size, then decompresses the streams."""
    import zstandard

    if len(raw) < HEADER.size:
        raise SetsplatError("file is too short for an SPZ version 4 header", _FIX_HINT, path)
    _, version, n, degree, bits, flags, streams, table = HEADER.unpack_from(raw)
    _check_header(version, degree, path)
    if version < 4:
        raise SetsplatError(f"SPZ version {version} outside gzip", _FIX_HINT, path)
    all_sizes = _block_sizes(n, version, degree)
    sizes = [s for s in all_sizes if s]  # empty blocks (SH of degree 0) have no stream
    declared_size(n, sum(_block_sizes(1, version, degree)), path,
                  limit=_MAX_EXPANSION * len(raw))
    start = table + streams * TABLE_ENTRY.size
    if streams != len(sizes) or not HEADER.size <= table or start > len(raw):
        raise SetsplatError(f"bad SPZ version 4 table ({streams} streams at byte {table})",
                            _FIX_HINT, path)
    frames, offset = [], start
    for i, expected in enumerate(sizes):
        packed, unpacked = TABLE_ENTRY.unpack_from(raw, table + i * TABLE_ENTRY.size)
        if unpacked != expected or offset + packed > len(raw):
            raise SetsplatError(f"SPZ stream {i} declares {unpacked:,} bytes in {packed:,}; "
                                f"{n:,} splats need {expected:,}", _FIX_HINT, path)
        frames.append(raw[offset:offset + packed])
        offset += packed

    def unpack(job: tuple[bytes, int]) -> np.ndarray:
        frame, expected = job
        content = zstandard.frame_content_size(frame)
        if content not in (expected, -1):
            raise SetsplatError(f"an SPZ stream holds {content:,} bytes, not {expected:,}",
                                _FIX_HINT, path)
        data = zstandard.ZstdDecompressor().decompress(frame, max_output_size=expected)
        if len(data) != expected:
            raise SetsplatError("an SPZ stream is cut short", _FIX_HINT, path)
        return np.frombuffer(data, np.uint8)

    try:
        with ThreadPoolExecutor(max(1, min(len(frames), os.cpu_count() or 1))) as pool:
            decoded = iter(list(pool.map(unpack, zip(frames, sizes))))
    except zstandard.ZstdError as exc:
        raise SetsplatError(f"an SPZ stream is not readable zstd ({exc})", _FIX_HINT,
                            path) from None
    blocks = [next(decoded) if size else np.zeros(0, np.uint8) for size in all_sizes]
    return _scene(blocks, n, version, degree, bits, flags, path, raw[HEADER.size:table])


def read(path: str | os.PathLike) -> GaussianScene:
    """Read SPZ versions 1–4 into a scene in the SPZ (RUB) frame; ``unscaled`` (and
    ``upright``) come from the manifest of the export that wrote it, if it is beside."""
    raw = read_bytes(path, _FIX_HINT)
    if raw[:4] == struct.pack("<I", MAGIC):
        scene = _read_v4(raw, path)
    elif raw[:2] == _GZIP_MAGIC:
        scene = decode(_gunzip(raw, path), path)
    else:
        raise SetsplatError("not an SPZ file (neither gzip nor an NGSP header)", _FIX_HINT,
                            path)
    add_export_facts(scene, path, raw)
    return scene
