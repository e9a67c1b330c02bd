"""SOG: PlayCanvas's WebP-image splat format (what SuperSplat and the PlayCanvas engine
stream), and its streamed, level-of-detail form.

A SOG is a ``meta.json`` plus lossless 8-bit WebP images in which pixel i (row-major,
top-left first) belongs to splat i; ``scene.sog`` is the same files in a ZIP. The images:

- ``means_l.webp``, ``means_u.webp`` (RGB): each coordinate as 16 bits (low and high
  byte) spanning ``means.mins..maxs`` of the log-transformed position
  ``sign(x)·ln(1 + |x|)`` (fine near the origin, coarse far away);
- ``quats.webp`` (RGBA): the unit quaternion (w, x, y, z) with its largest component made
  positive and dropped; the other three, times √2, as bytes ``255·(v/2 + 1/2)`` in
  order, and alpha 252 + the index of the dropped one;
- ``scales.webp`` (RGB): per axis, the index into ``scales.codebook`` (256 log-scales);
- ``sh0.webp`` (RGBA): per color, the index into ``sh0.codebook`` (256 DC coefficients),
  and alpha the opacity byte ``255·sigmoid``;
- ``shN_labels.webp`` (RG: a 16-bit index) and ``shN_centroids.webp``: the higher SH
  bands as a palette of ``shN.count`` entries (k-means over the splats' SH vectors), 64
  entries a row, one pixel per coefficient holding the ``shN.codebook`` (256 values)
  index of its r, g, b.

Splats are written in Morton (Z-curve) order of their positions, which keeps
neighbouring pixels alike and the WebP images small. Positions are stored as
splat-transform and SuperSplat store them: in the 3DGS PLY's own axes (RDF), unconverted
(``FRAME``). The 256-entry codebooks come from 1-D k-means.

The streamed form (``lod-meta.json``) holds several levels of detail of one scene, each
cut into chunks along a spatial binary tree; every chunk of a level is a SOG folder
``<level>_<file>/meta.json`` and the tree's leaves say which rows of which file hold
their splats at each level (``write_streamed``).

Round-trip tolerances (our writer, our reader): count exact; positions within half a
16-bit step of the log-domain range, ``(maxs - mins)/131070`` per axis, times
``1 + |x|`` once untransformed; each stored quaternion component within 0.5/255·√2
(≈ 0.16° of rotation for the rebuilt quaternion at worst); opacity within half a byte;
log-scales and DC coefficients decode to the codebook entry nearest to them (their error
is that distance); SH bands decode to their palette entry (k-means: no per-splat bound).
SOG carries no units: a scene read from it is marked ``unscaled`` unless the manifest an
export wrote beside it lists the file (see ``_manifest``).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core import sh as shlib
from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.frames import RDF, convert_scene
from setsplat.core.fsutil import atomic_write
from setsplat.core.io._common import declared_size, logit, read_bytes, sigmoid, to_byte
from setsplat.core.io._manifest import add_export_facts
from setsplat.core.scene import GaussianScene

FRAME = RDF
VERSION = 2
CODEBOOK_SIZE = 256
MAX_PALETTE = 4096        # SH palette entries (the format allows 65536: slower, larger)
PALETTE_PER_SPLATS = 16   # one palette entry per this many splats, up to MAX_PALETTE
KMEANS_ITERATIONS = 8
SAMPLE_PER_CENTRE = 16    # k-means fits the SH palette on this many splats an entry
# Lossless WebP effort (Pillow's quality and method): the bytes are the same at any
# effort; higher efforts shrink the files by about 1 % for several times the time.
WEBP_QUALITY, WEBP_METHOD = 50, 2
_SQRT2 = math.sqrt(2.0)
_MAX_META_BYTES = 16 << 20
_FIX_HINT = "the file is damaged or not a SOG; export it again"
_IMAGES = ("means_l", "means_u", "quats", "scales", "sh0")


# ----------------------------------------------------------------------------- layout
def texture_size(count: int) -> tuple[int, int]:
    """(width, height) of the per-splat images: about square, multiples of 4."""
    width = max(4, math.ceil(math.sqrt(count) / 4) * 4)
    return width, max(4, math.ceil(count / width / 4) * 4)


def morton_order(points: np.ndarray) -> np.ndarray:
    """Indices that sort ``points`` along a 3-D Z-curve (10 bits an axis)."""
    low, high = points.min(0), points.max(0)
    cells = ((points - low) / np.maximum(high - low, 1e-12) * 1023).astype(np.uint64)
    code = np.zeros(len(points), np.uint64)
    for bit in range(10):
        for axis in range(3):
            code |= ((cells[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(3 * bit + axis)
    return np.argsort(code, kind="stable")


def _log_transform(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


# ----------------------------------------------------------------------------- k-means
def codebook(values: np.ndarray, size: int = CODEBOOK_SIZE,
             iterations: int = 4 * KMEANS_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """1-D quantiser: (``size`` sorted centres, the index of each value's nearest centre).

    k-means on a histogram (bins both evenly spaced and at quantiles) whose counts are
    weighted by their square root: plain k-means would spend nearly every centre on the
    dense middle and leave the rare extreme values (bright highlights, large splats)
    badly off; flattening the density keeps some centres out there."""
    flat = np.asarray(values, np.float64).ravel()
    unique = np.unique(flat)
    if len(unique) <= size:
        centres = np.pad(unique, (0, size - len(unique)), mode="edge")
    else:
        edges = np.unique(np.concatenate([np.linspace(unique[0], unique[-1], 2049),
                                          np.quantile(unique, np.linspace(0, 1, 2049))]))
        bins = np.clip(np.searchsorted(edges, flat, side="right") - 1, 0, len(edges) - 2)
        counts = np.bincount(bins, minlength=len(edges) - 1)
        used = counts > 0
        points = np.bincount(bins, flat, len(edges) - 1)[used] / counts[used]
        weights = np.sqrt(counts[used])
        cumulative = np.cumsum(weights) / weights.sum()
        centres = points[np.searchsorted(cumulative, (np.arange(size) + 0.5) / size)]
        for _ in range(iterations):
            labels = np.searchsorted((centres[1:] + centres[:-1]) / 2, points)
            mass = np.bincount(labels, weights, size)
            moved = np.bincount(labels, weights * points, size)
            centres = np.sort(np.where(mass > 0, moved / np.maximum(mass, 1e-300), centres))
    labels = np.searchsorted((centres[1:] + centres[:-1]) / 2, flat)
    return centres.astype(np.float32), labels.astype(np.uint8).reshape(np.shape(values))


def _nearest(points: np.ndarray, centres: np.ndarray, rows: int = 4096) -> np.ndarray:
    """Index of the nearest centre for each point (squared distance via one matmul a
    block of rows, float32)."""
    norms = (centres * centres).sum(1)
    out = np.empty(len(points), np.int64)
    for start in range(0, len(points), rows):
        block = points[start:start + rows]
        out[start:start + rows] = np.argmin(norms[None, :] - 2 * block @ centres.T, axis=1)
    return out


def palette(vectors: np.ndarray, size: int, iterations: int = KMEANS_ITERATIONS,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means over SH vectors: (``size`` centres, each vector's centre). The centres are
    fitted on a sample of at most ``SAMPLE_PER_CENTRE`` vectors a centre (the distances
    are the whole cost), then every vector is assigned."""
    vectors = np.ascontiguousarray(vectors, np.float32)
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), min(len(vectors), SAMPLE_PER_CENTRE * size),
                                replace=False)]
    centres = sample[rng.choice(len(sample), size, replace=False)].copy()
    for _ in range(iterations):
        labels = _nearest(sample, centres)
        order = np.argsort(labels, kind="stable")
        filled, starts, counts = np.unique(labels[order], return_index=True,
                                           return_counts=True)
        centres[filled] = np.add.reduceat(sample[order], starts) / counts[:, None]
    return centres, _nearest(vectors, centres)


def palette_size(count: int) -> int:
    """SH palette entries for ``count`` splats: a power of two, one per
    ``PALETTE_PER_SPLATS`` splats, from 64 up to ``MAX_PALETTE`` (never above count)."""
    size = 1 << max(6, int(math.log2(max(count // PALETTE_PER_SPLATS, 1))))
    return min(size, MAX_PALETTE, count)


# ----------------------------------------------------------------------------- writing
def _pixels(columns: list[np.ndarray], count: int, alpha: int | None = None) -> np.ndarray:
    """An (H, W, channels) uint8 image holding one splat per pixel, from byte columns."""
    width, height = texture_size(count)
    channels = len(columns) + (alpha is not None)
    image = np.zeros((width * height, channels), np.uint8)
    for c, column in enumerate(columns):
        image[:count, c] = column
    if alpha is not None:
        image[:, -1] = alpha
    return image.reshape(height, width, channels)


def _webp(image: np.ndarray) -> bytes:
    """Lossless WebP that keeps every byte (also color under zero alpha)."""
    from PIL import Image

    mode = "RGBA" if image.shape[2] == 4 else "RGB"
    buffer = io.BytesIO()
    Image.fromarray(image, mode).save(buffer, "WEBP", lossless=True, exact=True,
                                      quality=WEBP_QUALITY, method=WEBP_METHOD)
    return buffer.getvalue()


def _pack_quats(quats_wxyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = quats_wxyz.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    largest = np.argmax(np.abs(q), axis=1)
    q *= np.where(np.take_along_axis(q, largest[:, None], 1) < 0, -1.0, 1.0) * _SQRT2
    kept = np.array([[j for j in range(4) if j != i] for i in range(4)])[largest]
    stored = np.take_along_axis(q, kept, 1)
    return to_byte(255 * (stored * 0.5 + 0.5)), (252 + largest).astype(np.uint8)


def _means(means: np.ndarray) -> tuple[dict[str, Any], list[np.ndarray]]:
    logs = _log_transform(means.astype(np.float64))
    mins, maxs = logs.min(0), logs.max(0)
    fixed = np.rint(65535 * (logs - mins) / np.where(maxs > mins, maxs - mins, 1)).astype(
        np.uint16)
    meta = {"mins": mins.tolist(), "maxs": maxs.tolist(),
            "files": ["means_l.webp", "means_u.webp"]}
    return meta, [(fixed & 0xFF).astype(np.uint8), (fixed >> 8).astype(np.uint8)]


def _sh_rest(rest: np.ndarray, count: int, size: int | None, iterations: int
             ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The SH palette: its meta entry and the two images."""
    coeffs = rest.shape[1]
    size = size or palette_size(count)
    centres, labels = palette(rest.reshape(count, -1), size, iterations)
    values, indices = codebook(centres)
    entries = indices.reshape(size, coeffs, 3)
    rows = math.ceil(size / 64)
    centroids = np.zeros((rows * 64, coeffs, 3), np.uint8)
    centroids[:size] = entries
    images = {
        "shN_centroids": centroids.reshape(rows, 64 * coeffs, 3),
        "shN_labels": _pixels([labels & 0xFF, labels >> 8, np.zeros(count)], count),
    }
    meta = {"count": size, "bands": shlib.degree_of(coeffs + 1), "codebook": values.tolist(),
            "files": ["shN_centroids.webp", "shN_labels.webp"]}
    return meta, images


def encode(scene: GaussianScene, *, palette_entries: int | None = None,
           iterations: int = KMEANS_ITERATIONS, reorder: bool = True) -> dict[str, bytes]:
    """The files of a SOG of ``scene`` (converted to ``FRAME``): name -> bytes. The
    splats go in Morton order unless ``reorder`` is False (a streamed chunk's rows are
    addressed by the tree)."""
    if len(scene) == 0:
        raise SetsplatError("the scene has no splats", "nothing to write")
    if scene.frame != FRAME:
        scene = convert_scene(scene, FRAME)
    width, height = texture_size(len(scene))
    if max(width, height) > 16383:  # WebP's largest image side
        raise SetsplatError(f"{len(scene):,} splats are too many for one SOG",
                            "export with --lod (streamed SOG) or fewer splats (--max-splats)")
    if reorder:
        scene = scene.subset(morton_order(scene.means))
    n = len(scene)
    means_meta, (low, high) = _means(scene.means)
    quat_bytes, quat_mode = _pack_quats(scene.quats)
    scale_values, scale_labels = codebook(scene.log_scales, iterations=iterations)
    dc_values, dc_labels = codebook(scene.sh[:, 0], iterations=iterations)
    opacity = to_byte(sigmoid(scene.opacity_logits) * 255)
    images = {
        "means_l": _pixels([low[:, 0], low[:, 1], low[:, 2]], n),
        "means_u": _pixels([high[:, 0], high[:, 1], high[:, 2]], n),
        "quats": _pixels([*quat_bytes.T, quat_mode], n),
        "scales": _pixels(list(scale_labels.T), n),
        "sh0": _pixels([*dc_labels.T, opacity], n),
    }
    meta: dict[str, Any] = {
        "version": VERSION, "asset": {"generator": "setsplat"}, "count": n,
        "means": means_meta,
        "scales": {"codebook": scale_values.tolist(), "files": ["scales.webp"]},
        "quats": {"files": ["quats.webp"]},
        "sh0": {"codebook": dc_values.tolist(), "files": ["sh0.webp"]},
    }
    if scene.meta.get("antialiased"):  # the spec's flag, and splat-transform's model
        meta.update(antialias=True, model="antialiased")
    if scene.sh_degree > 0:
        meta["shN"], sh_images = _sh_rest(scene.sh[:, 1:], n, palette_entries, iterations)
        images.update(sh_images)
    with ThreadPoolExecutor(min(len(images), os.cpu_count() or 1)) as pool:
        encoded = dict(zip(images, pool.map(_webp, images.values())))
    files = {f"{name}.webp": data for name, data in encoded.items()}
    files["meta.json"] = json.dumps(meta, separators=(",", ":")).encode()
    return files


def _zip(files: dict[str, bytes]) -> bytes:
    """A ZIP of ``files`` at its root, stored (WebP is compressed already), dated 1980 so
    the same scene gives the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def write(path: str | os.PathLike, scene: GaussianScene, **options: Any) -> None:
    """Write ``scene`` as SOG: a bundled ``.sog`` (ZIP), or, when ``path`` is a
    ``meta.json``, the files side by side in its folder. ``options``: ``palette_entries``
    (SH palette size) and ``iterations`` (k-means)."""
    files = encode(scene, **options)
    path = Path(path)
    if path.name == "meta.json":
        for name, data in files.items():
            with atomic_write(path.with_name(name)) as f:
                f.write(data)
        return
    with atomic_write(path) as f:
        f.write(_zip(files))


# ----------------------------------------------------------------------------- streamed
CHUNK_SPLATS = 1 << 16   # splats of one level in a tree leaf / in one chunk file, at most
CHUNK_EXTENT = 16.0      # metres: a leaf wider than this is split (the viewer culls leaves)
LOD_META = "lod-meta.json"


@dataclass
class _Leaf:
    base: np.ndarray                                   # indices into the full scene
    lods: dict[int, dict[str, int]] = field(default_factory=dict)


def _split(points: np.ndarray, index: np.ndarray, chunk_splats: int, chunk_extent: float
           ) -> dict | _Leaf:
    """The binary tree: split at the median of the widest axis while a node holds more
    than ``chunk_splats`` splats or spans more than ``chunk_extent``."""
    low, high = points[index].min(0), points[index].max(0)
    axis = int(np.argmax(high - low))
    if (len(index) <= max(chunk_splats, 1) and high[axis] - low[axis] <= chunk_extent) \
            or len(index) < 2:
        return _Leaf(index)
    order = index[np.argsort(points[index, axis], kind="stable")]
    half = len(order) // 2
    return {"children": [_split(points, order[:half], chunk_splats, chunk_extent),
                         _split(points, order[half:], chunk_splats, chunk_extent)]}


def _leaves(node: dict | _Leaf) -> list[_Leaf]:
    return [node] if isinstance(node, _Leaf) else [leaf for child in node["children"]
                                                   for leaf in _leaves(child)]


def _extent_bounds(scene: GaussianScene, index: np.ndarray) -> dict[str, list[float]]:
    """Axis-aligned bounds of the splats' 1-sigma ellipsoids."""
    from setsplat.core.rotation import quat_to_matrix

    rotation = quat_to_matrix(scene.quats[index].astype(np.float64))
    half = np.sqrt(((rotation * np.exp(scene.log_scales[index, None, :])) ** 2).sum(2))
    centres = scene.means[index].astype(np.float64)
    return {"min": (centres - half).min(0).tolist(), "max": (centres + half).max(0).tolist()}


def _tree_json(node: dict | _Leaf, scene: GaussianScene) -> dict:
    if isinstance(node, _Leaf):
        return {"bound": _extent_bounds(scene, node.base),
                "lods": {str(k): v for k, v in node.lods.items()}}
    children = [_tree_json(child, scene) for child in node["children"]]
    return {"bound": {"min": np.minimum(*(c["bound"]["min"] for c in children)).tolist(),
                      "max": np.maximum(*(c["bound"]["max"] for c in children)).tolist()},
            "children": children}


def write_streamed(folder: str | os.PathLike, scene: GaussianScene,
                   levels: list[np.ndarray], *, chunk_splats: int = CHUNK_SPLATS,
                   chunk_extent: float = CHUNK_EXTENT, **options: Any) -> list[str]:
    """Write streamed SOG into ``folder``: ``lod-meta.json`` and one SOG folder per chunk
    file. ``levels[k]`` are the indices into ``scene`` of level k's splats, level 0 the
    finest and every coarser level a subset of it (decimation keeps splats); the tree is
    cut on level 0's positions and each level's splats go to the leaf holding them.
    Returns the files written (relative to ``folder``)."""
    if scene.frame != FRAME:
        scene = convert_scene(scene, FRAME)
    folder = Path(folder)
    tree = _split(scene.means, levels[0], chunk_splats, chunk_extent)
    leaves = _leaves(tree)
    leaf_of = np.full(len(scene), -1)
    for number, leaf in enumerate(leaves):
        leaf_of[leaf.base] = number
    filenames: list[str] = []
    chunks: dict[str, list[np.ndarray]] = {}
    for level, members in enumerate(levels):
        if np.any(leaf_of[members] < 0):
            raise SetsplatError(f"level {level} holds splats that level 0 does not",
                                "make every coarser level a subset of level 0")
        file_index, filled = 0, 0
        for number, leaf in enumerate(leaves):
            unit = members[leaf_of[members] == number]
            if len(unit) == 0:
                continue
            name = f"{level}_{file_index}/meta.json"
            if name not in chunks:
                filenames.append(name)
                chunks[name] = []
            unit = unit[morton_order(scene.means[unit])]
            leaf.lods[level] = {"file": filenames.index(name), "offset": filled,
                                "count": len(unit)}
            chunks[name].append(unit)
            filled += len(unit)
            if filled >= chunk_splats:
                file_index, filled = file_index + 1, 0
    written = []
    for name, units in chunks.items():
        files = encode(scene.subset(np.concatenate(units)), reorder=False, **options)
        for file, data in files.items():
            with atomic_write(folder / Path(name).parent / file) as f:
                f.write(data)
            written.append(f"{Path(name).parent}/{file}")
    meta = {"version": 1, "asset": {"generator": "setsplat"},
            "count": int(sum(len(m) for m in levels)), "counts": [len(m) for m in levels],
            "lodLevels": len(levels), "filenames": filenames,
            "tree": _tree_json(tree, scene)}
    with atomic_write(folder / LOD_META) as f:
        f.write(json.dumps(meta, separators=(",", ":")).encode())
    return [*written, LOD_META]


# ----------------------------------------------------------------------------- reading
def _image(data: bytes, name: str, least: int, most: int, path: str | os.PathLike
           ) -> np.ndarray:
    """The RGBA pixels (H, W, 4) of a WebP, refused before decoding when its size is not
    between ``least`` and ``most`` pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if not least <= width * height <= most:
                raise SetsplatError(f"{name} is {width}x{height}, which does not fit the "
                                    f"{least:,} entries meta.json declares", _FIX_HINT, path)
            return np.asarray(image.convert("RGBA"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise SetsplatError(f"{name} is not a readable WebP image ({exc})", _FIX_HINT,
                            path) from None


def _floats(meta: dict, key: str, field: str, length: int, path) -> np.ndarray:
    try:
        values = np.asarray(meta[key][field], np.float64)
    except (KeyError, TypeError, ValueError):
        raise SetsplatError(f"meta.json has no numeric {key}.{field}", _FIX_HINT, path) from None
    if values.shape != (length,) or not np.isfinite(values).all():
        raise SetsplatError(f"meta.json {key}.{field} should hold {length} finite numbers",
                            _FIX_HINT, path)
    return values


def _file_names(meta: dict, key: str, count: int, path) -> list[str]:
    names = meta.get(key, {}).get("files") if isinstance(meta.get(key), dict) else None
    if (not isinstance(names, list) or len(names) < count
            or not all(isinstance(n, str) and n and "/" not in n and "\\" not in n
                       and n not in (".", "..") for n in names)):
        raise SetsplatError(f"meta.json {key}.files should name {count} files in its folder",
                            _FIX_HINT, path)
    return names[:count]


def _unpack_quats(pixels: np.ndarray, path) -> np.ndarray:
    mode = pixels[:, 3].astype(np.int64) - 252
    if np.any((mode < 0) | (mode > 3)):
        raise SetsplatError("quats.webp has alpha outside 252..255", _FIX_HINT, path)
    stored = (pixels[:, :3].astype(np.float64) / 255 - 0.5) * 2 / _SQRT2
    kept = np.array([[j for j in range(4) if j != i] for i in range(4)])[mode]
    q = np.zeros((len(pixels), 4))
    np.put_along_axis(q, kept, stored, 1)
    rest = np.sqrt(np.maximum(0.0, 1 - (stored**2).sum(1)))
    np.put_along_axis(q, mode[:, None], rest[:, None], 1)
    return q


def _decode(meta: dict, load, path) -> GaussianScene:
    """A scene from a parsed meta.json and ``load(name) -> bytes`` for its files."""
    version = meta.get("version") if isinstance(meta, dict) else None
    if version != VERSION:
        raise SetsplatError(f"SOG meta.json version {version!r} is not supported (we read "
                            f"{VERSION})", _FIX_HINT, path)
    n = meta.get("count")
    if not isinstance(n, int) or n < 1:
        raise SetsplatError("meta.json count should be a positive integer", _FIX_HINT, path)
    declared_size(n, 4 * 7, path)
    most = 4 * n + (1 << 16)

    def image(key: str, index: int = 0, least: int = n, limit: int = most) -> np.ndarray:
        """The pixels of ``meta[key].files[index]``, one row of RGBA a pixel."""
        return image_grid(key, index, least, limit).reshape(-1, 4)

    def image_grid(key: str, index: int, least: int, limit: int) -> np.ndarray:
        name = _file_names(meta, key, index + 1, path)[index]
        return _image(load(name), name, least, limit, path)

    mins, maxs = (_floats(meta, "means", f, 3, path) for f in ("mins", "maxs"))
    fixed = image("means", 0)[:n, :3].astype(np.float64) + 256.0 * image("means", 1)[:n, :3]
    logs = mins + (maxs - mins) * fixed / 65535
    sh0 = image("sh0")[:n]
    scale_book = _floats(meta, "scales", "codebook", CODEBOOK_SIZE, path)
    dc_book = _floats(meta, "sh0", "codebook", CODEBOOK_SIZE, path)
    sh = dc_book[sh0[:, None, :3]]
    if isinstance(meta.get("shN"), dict):
        sh = np.concatenate([sh, _decode_sh_rest(meta, image_grid, image, n, path)], 1)
    try:
        scene = GaussianScene(
            means=np.sign(logs) * np.expm1(np.abs(logs)),
            quats=_unpack_quats(image("quats")[:n], path),
            log_scales=scale_book[image("scales")[:n, :3]],
            opacity_logits=logit(sh0[:, 3] / 255),
            sh=sh, frame=FRAME,
            meta={"unscaled": True, "antialiased": bool(
                meta.get("antialias") or meta.get("model") == "antialiased")})
    except SetsplatError as exc:
        raise SetsplatError(exc.what, _FIX_HINT, path) from None
    return scene


def _decode_sh_rest(meta: dict, image_grid, image, n: int, path) -> np.ndarray:
    """SH bands 1.. (N, K-1, 3) from the palette (64 entries a row, as many rows as it
    fills) and the labels."""
    entry = meta["shN"]
    bands, size = entry.get("bands"), entry.get("count")
    if bands not in (1, 2, 3) or not isinstance(size, int) or not 1 <= size <= 65536:
        raise SetsplatError("meta.json shN needs bands 1..3 and count 1..65536", _FIX_HINT,
                            path)
    coeffs = (bands + 1) ** 2 - 1
    book = _floats(meta, "shN", "codebook", CODEBOOK_SIZE, path)
    centroids = image_grid("shN", 0, 64 * coeffs, 64 * coeffs * math.ceil(size / 64))
    if centroids.shape[1] != 64 * coeffs:
        raise SetsplatError(f"shN_centroids.webp is {centroids.shape[1]} wide, not "
                            f"{64 * coeffs} (64 entries of {coeffs} coefficients)", _FIX_HINT,
                            path)
    entries = book[centroids[..., :3]].reshape(-1, coeffs, 3)
    labels = image("shN", 1)[:n]
    index = labels[:, 0].astype(np.int64) | (labels[:, 1].astype(np.int64) << 8)
    if index.max() >= min(size, len(entries)):
        raise SetsplatError("shN_labels.webp points past the palette", _FIX_HINT, path)
    return entries[index]


def _meta(data: bytes, path) -> dict:
    if len(data) > _MAX_META_BYTES:
        raise SetsplatError("meta.json is too large", _FIX_HINT, path)
    try:
        return json.loads(data)
    except ValueError as exc:
        raise SetsplatError(f"meta.json is not JSON ({exc})", _FIX_HINT, path) from None


def read(path: str | os.PathLike) -> GaussianScene:
    """Read a SOG: a bundled ``.sog`` (ZIP) or a ``meta.json`` beside its images. The
    scene is in ``FRAME``; ``unscaled`` (and ``upright``) come from the manifest of the
    export that wrote it, if it is beside."""
    path = Path(path)
    if path.name == "meta.json":
        raw = read_bytes(path, _FIX_HINT)
        scene = _decode(_meta(raw, path), lambda name: read_bytes(path.with_name(name),
                                                                 _FIX_HINT), path)
    else:
        raw = read_bytes(path, _FIX_HINT)
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                def load(name: str) -> bytes:
                    try:
                        info = archive.getinfo(name)
                    except KeyError:
                        raise SetsplatError(f"the archive has no {name}", _FIX_HINT,
                                            path) from None
                    if info.file_size > len(raw) * 1032 + (1 << 20):
                        raise SetsplatError(f"{name} declares {info.file_size:,} bytes",
                                            _FIX_HINT, path)
                    return archive.read(info)

                scene = _decode(_meta(load("meta.json"), path), load, path)
        except (zipfile.BadZipFile, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno:
                raise os_error(exc, path, "reading") from exc
            raise SetsplatError(f"not a SOG bundle (a ZIP): {exc}", _FIX_HINT, path) from None
    add_export_facts(scene, path, raw)
    return scene
