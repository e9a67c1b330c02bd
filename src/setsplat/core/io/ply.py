"""PLY: the INRIA 3DGS layout (read/write) and plain point clouds (read).

The 3DGS layout is one ``vertex`` element with float properties
``x y z [nx ny nz] f_dc_0..2 f_rest_0..(3(K-1)-1) opacity scale_0..2 rot_0..3``,
where ``f_rest`` is channel-major (all red coefficients, then green, then blue).
We read binary (either endianness) and ASCII, keep properties we do not know as
``scene.extras``, and write binary little-endian. A ``comment setsplat {...}`` header
line carries the frame and meta, so our own files round-trip byte-identically. A scene
trained anti-aliased also gets ``comment SplatRenderMode: mip``, spelled as Brush (which
defines it) writes it and as splat-transform reads and writes it; reading, that comment
(or Postshot's ``comment antialiased 0|1``) sets ``meta["antialiased"]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import math
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from setsplat.core import sh as shlib
from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.frames import RDF, get_frame
from setsplat.core.fsutil import atomic_write
from setsplat.core.io._columns import join_columns, split_columns
from setsplat.core.jsonio import json_default
from setsplat.core.scene import GaussianScene

FORMATS = {"ascii": None, "binary_little_endian": "<", "binary_big_endian": ">"}
TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_TYPE_NAMES = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort", "i4": "int",
               "u4": "uint", "f4": "float", "f8": "double"}
_MAX_HEADER = 1 << 20
_COMMENT_TAG = "setsplat "
_RENDER_MODE_TAG = "splatrendermode:"  # Brush's ``SplatRenderMode: default|mip|2dgs``
_ANTIALIASED_TAG = "antialiased "       # Postshot's ``antialiased 0|1``
_NORMALS = ("nx", "ny", "nz")
_GAUSSIAN = ("f_dc_0", "opacity", "scale_0", "rot_0")
_FIX_HINT = "the file is damaged or not a PLY; re-export it from its source"


@dataclass
class Element:
    name: str
    count: int
    properties: list[tuple[str, str]] = field(default_factory=list)  # (name, numpy code)
    lists: list[str] = field(default_factory=list)  # list properties (faces, ...)

    def dtype(self, endian: str) -> np.dtype:
        return np.dtype([(name, endian + code) for name, code in self.properties])


@dataclass
class Header:
    format: str
    elements: list[Element]
    comments: list[str]
    data_offset: int

    @property
    def vertex(self) -> Element | None:
        return next((e for e in self.elements if e.name == "vertex"), None)


def read_header(f: BinaryIO, path: str | os.PathLike) -> Header:
    """Parse the header of an open PLY; raise a SetsplatError that says what is wrong."""
    if f.readline(16).rstrip(b"\r\n") != b"ply":
        raise SetsplatError("not a PLY file (it does not start with 'ply')", _FIX_HINT, path)
    fmt, elements, comments = None, [], []
    while True:
        raw = f.readline(_MAX_HEADER)
        if not raw.endswith(b"\n") or f.tell() > _MAX_HEADER:
            raise SetsplatError("PLY header never ends (no 'end_header' line)", _FIX_HINT, path)
        try:
            line = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise SetsplatError("PLY header contains non-ASCII bytes", _FIX_HINT, path) from None
        words = line.split()
        if not words:
            continue
        keyword = words[0]
        if keyword == "end_header":
            break
        if keyword in ("comment", "obj_info"):
            comments.append(line[len(keyword) + 1:])
        elif keyword == "format":
            if len(words) != 3 or words[1] not in FORMATS:
                raise SetsplatError(f"unknown PLY format line {line!r}",
                                    "expected ascii, binary_little_endian or binary_big_endian",
                                    path)
            fmt = words[1]
        elif keyword == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise SetsplatError(f"bad PLY element line {line!r}", _FIX_HINT, path)
            elements.append(Element(words[1], int(words[2])))
        elif keyword == "property":
            if not elements:
                raise SetsplatError("PLY property before any element", _FIX_HINT, path)
            _add_property(elements[-1], words, line, path)
        else:
            raise SetsplatError(f"unexpected PLY header line {line!r}", _FIX_HINT, path)
    if fmt is None:
        raise SetsplatError("PLY header has no 'format' line", _FIX_HINT, path)
    return Header(fmt, elements, comments, f.tell())


def _add_property(element: Element, words: list[str], line: str, path: str | os.PathLike) -> None:
    if len(words) == 5 and words[1] == "list":
        if words[2] not in TYPES or words[3] not in TYPES:
            raise SetsplatError(f"unknown PLY type in {line!r}", _FIX_HINT, path)
        element.lists.append(words[4])
        return
    if len(words) != 3 or words[1] not in TYPES:
        raise SetsplatError(f"bad PLY property line {line!r}", _FIX_HINT, path)
    if element.lists:
        raise SetsplatError(f"element {element.name!r} mixes list and scalar properties",
                            "this PLY layout is not supported", path)
    if any(name == words[2] for name, _ in element.properties):
        raise SetsplatError(f"property {words[2]!r} is declared twice", _FIX_HINT, path)
    element.properties.append((words[2], TYPES[words[1]]))


# ----------------------------------------------------------------------------- reading
@contextlib.contextmanager
def _open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise os_error(exc, path, "opening") from exc
    with f:
        if os.fstat(f.fileno()).st_size == 0:
            raise SetsplatError("file is empty (0 bytes)", _FIX_HINT, path)
        yield f


@dataclass
class _FloatRows:
    """The vertex block of a binary little-endian file whose properties are all float32:
    (count, width) rows read with ``pread``, a block at a time or whole."""

    fd: int
    offset: int
    count: int
    width: int
    path: str | os.PathLike

    def read_into(self, first: int, out: np.ndarray) -> None:
        """Rows ``first``.. into ``out`` (rows, width), which must be C-contiguous."""
        data = memoryview(out).cast("B")
        position = self.offset + first * self.width * 4
        while data:
            got = _pread_into(self.fd, data, position)
            if got == 0:
                raise SetsplatError("file shrank while being read", "read it again", self.path)
            data, position = data[got:], position + got

    def all(self) -> np.ndarray:
        rows = np.empty((self.count, self.width), np.float32)
        self.read_into(0, rows)
        return rows


def _pread_into(fd: int, data: memoryview, position: int) -> int:
    """``pread`` straight into ``data``; through a bytes copy where there is no preadv."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [data], position)
    chunk = os.pread(fd, len(data), position)
    data[: len(chunk)] = chunk
    return len(chunk)


@dataclass
class _Vertices:
    """The vertex block: ``rows`` when every property is a little-endian float32, else
    one array per property."""

    names: list[str]
    header: Header
    rows: _FloatRows | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        if self.rows is not None and not self.columns:
            table = self.rows.all()
            self.columns = {n: table[:, i] for i, n in enumerate(self.names)}
        return self.columns[name]


@contextlib.contextmanager
def _vertices(path: str | os.PathLike) -> Iterator[_Vertices]:
    """Locate the vertex block of a PLY (after checking its size against the header).
    The row source is only valid inside the block."""
    with _open(path) as f:
        header = read_header(f, path)
        vertex = header.vertex
        if vertex is None:
            raise SetsplatError("PLY has no 'vertex' element", "it holds no points or splats", path)
        if vertex.lists:
            raise SetsplatError("PLY vertex element has list properties",
                                "this PLY layout is not supported", path)
        names = [name for name, _ in vertex.properties]
        endian = FORMATS[header.format]
        if endian is None:
            yield _Vertices(names, header, columns=_read_ascii(f, header, vertex, path))
            return
        offset = _binary_offset(header, vertex, path)
        size = os.fstat(f.fileno()).st_size
        dtype = vertex.dtype(endian)
        needed = offset + vertex.count * dtype.itemsize
        later = header.elements[header.elements.index(vertex) + 1:]
        if size < needed:
            raise SetsplatError(
                f"file is truncated: the header declares {vertex.count} vertices "
                f"({needed - header.data_offset} bytes) but only {size - header.data_offset} "
                "bytes follow", "the file was cut short; copy or export it again", path)
        if size > needed and not later:
            raise SetsplatError(
                f"{size - needed} bytes follow the {vertex.count} declared vertices",
                "the header does not match the data (wrong vertex or property count); "
                "re-export the file", path)
        if dtype.itemsize == 0 or vertex.count == 0:
            yield _Vertices(names, header, columns={n: np.zeros(0, dtype[n]) for n in names})
        elif all(code == "f4" for _, code in vertex.properties) and endian == "<":
            yield _Vertices(names, header,
                            rows=_FloatRows(f.fileno(), offset, vertex.count, len(names), path))
        else:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                table = np.frombuffer(mapped, dtype, vertex.count, offset)
                columns = {n: table[n].astype(table[n].dtype.newbyteorder("="))
                           for n in names}
                del table
            yield _Vertices(names, header, columns=columns)


def _binary_offset(header: Header, vertex: Element, path: str | os.PathLike) -> int:
    offset = header.data_offset
    endian = FORMATS[header.format]
    for element in header.elements:
        if element is vertex:
            return offset
        if element.lists:
            raise SetsplatError(f"element {element.name!r} with list properties comes before "
                                "the vertices", "this PLY layout is not supported", path)
        offset += element.count * element.dtype(endian).itemsize
    raise AssertionError("vertex element not in header")


def _read_ascii(
    f: BinaryIO, header: Header, vertex: Element, path: str | os.PathLike
) -> dict[str, np.ndarray]:
    skip = 0
    for element in header.elements:
        if element is vertex:
            break
        skip += element.count
    lines = f.read().decode("ascii", errors="replace").splitlines()
    lines = [line for line in lines if line.strip()]
    rows = lines[skip: skip + vertex.count]
    if len(rows) < vertex.count:
        raise SetsplatError(f"file is truncated: {vertex.count} vertices declared, "
                            f"{len(rows)} found", "the file was cut short; export it again", path)
    width = len(vertex.properties)
    values = []
    for number, row in enumerate(rows):
        words = row.split()
        if len(words) != width:
            raise SetsplatError(f"vertex {number} has {len(words)} values but the header "
                                f"declares {width} properties", _FIX_HINT, path)
        values.append(words)
    try:
        table = np.array(values, dtype=np.float64).reshape(len(rows), width)
    except ValueError as exc:
        raise SetsplatError(f"a vertex value is not a number ({exc})", _FIX_HINT, path) from None
    return {name: table[:, i].astype(code) for i, (name, code) in enumerate(vertex.properties)}


def _gaussian_groups(names: list[str], path: str | os.PathLike) -> tuple[dict, list[str]]:
    """Column indices of each scene parameter, and the names of the extra properties."""
    index = {name: i for i, name in enumerate(names)}
    if not all(key in index for key in _GAUSSIAN):
        if all(key in index for key in "xyz"):
            raise SetsplatError("this PLY holds a point cloud, not Gaussian splats",
                                "it can seed training, but not be read as a splat scene", path)
        raise SetsplatError("PLY has no x, y, z properties", "it is not a splat scene", path)
    rest = [n for n in names if n.startswith("f_rest_")]
    try:
        degree = shlib.degree_of(len(rest) // 3 + 1)
        if len(rest) % 3:
            raise ValueError
    except ValueError:
        raise SetsplatError(f"header declares {len(rest)} f_rest properties; a 3DGS PLY has "
                            "0, 9, 24 or 45 (SH degree 0–3)", _FIX_HINT, path) from None
    per_channel = shlib.num_coeffs(degree) - 1
    wanted = {
        "means": ["x", "y", "z"],
        "quats": [f"rot_{i}" for i in range(4)],
        "log_scales": [f"scale_{i}" for i in range(3)],
        "opacity_logits": ["opacity"],
        "sh": [f"f_dc_{c}" if k == 0 else f"f_rest_{c * per_channel + k - 1}"
               for k in range(per_channel + 1) for c in range(3)],
    }
    missing = [n for names_ in wanted.values() for n in names_ if n not in index]
    if missing:
        raise SetsplatError(f"PLY lacks the 3DGS properties {', '.join(missing)}",
                            _FIX_HINT, path)
    used = {n for names_ in wanted.values() for n in names_}
    extras = [n for n in names if n not in used]
    return {key: [index[n] for n in value] for key, value in wanted.items()}, extras


def read(path: str | os.PathLike, *, drop_invalid: bool = False) -> GaussianScene:
    """Read a 3DGS PLY into a GaussianScene (quaternions normalised).

    ``drop_invalid`` leaves out splats with NaN/inf values or a zero quaternion instead
    of refusing the file; ``scene.meta["dropped_invalid"]`` says how many.
    """
    with _vertices(path) as vertices:
        groups, extra_names = _gaussian_groups(vertices.names, path)
        keys = list(groups)
        if vertices.rows is not None:
            rows = vertices.rows
            arrays, verified = split_columns(
                rows.read_into, rows.count, rows.width,
                [groups[k] for k in keys] + [[vertices.names.index(n)] for n in extra_names],
                unit_group=keys.index("quats"))
            params = dict(zip(keys, arrays))
            extras = {n: a[:, 0] for n, a in zip(extra_names, arrays[len(keys):])}
        else:
            names = vertices.names
            params = {k: np.stack([vertices.columns[names[i]] for i in groups[k]], 1)
                      .astype(np.float32) for k in keys}
            extras = {n: vertices.columns[n] for n in extra_names}
            verified = False
        frame, meta = _setsplat_comment(vertices.header.comments)
        antialiased = _antialiased_comment(vertices.header.comments)
        if antialiased is not None:
            meta["antialiased"] = antialiased
    n = params["means"].shape[0]
    params["opacity_logits"] = params["opacity_logits"].reshape(n)
    params["sh"] = params["sh"].reshape(n, len(groups["sh"]) // 3, 3)  # n may be 0
    if drop_invalid:
        keep = np.ones(n, bool)
        for value in params.values():
            keep &= np.isfinite(value.reshape(n, -1)).all(1)
        keep &= np.any(params["quats"] != 0, axis=1)
        if not keep.all():
            params = {k: v[keep] for k, v in params.items()}
            extras = {k: v[keep] for k, v in extras.items()}
            meta["dropped_invalid"] = int((~keep).sum())
    try:
        return GaussianScene(**params, frame=frame, meta=meta, extras=extras,
                             verified=verified and not drop_invalid)
    except SetsplatError as exc:
        raise SetsplatError(exc.what, exc.hint, path) from None


def _setsplat_comment(comments: list[str]) -> tuple[Any, dict]:
    """Frame and meta from our header comment; a foreign file is RDF of unknown scale."""
    for comment in comments:
        if comment.startswith(_COMMENT_TAG):
            try:
                data = json.loads(comment[len(_COMMENT_TAG):])
                frame = get_frame(data.get("frame", "rdf"))
                if "meters_per_unit" in data:  # a frame written in other units (--units)
                    unit = float(data["meters_per_unit"])
                    if not (math.isfinite(unit) and unit > 0):
                        raise ValueError(unit)
                    frame = dataclasses.replace(frame, meters_per_unit=unit)
                return frame, dict(data.get("meta", {}))
            except (ValueError, TypeError, AttributeError, SetsplatError):
                break
    return RDF, {"unscaled": True}


def _antialiased_comment(comments: list[str]) -> bool | None:
    """Whether a renderer must apply the anti-aliasing (mip) filter, from the comments
    other trainers write; None when none says. The last such comment wins."""
    found = None
    for comment in comments:
        lower = comment.strip().lower()
        if lower.startswith(_RENDER_MODE_TAG):
            found = lower[len(_RENDER_MODE_TAG):].strip() == "mip"
        elif lower.startswith(_ANTIALIASED_TAG) and lower[len(_ANTIALIASED_TAG):] in ("0", "1"):
            found = lower.endswith("1")
    return found


def read_points(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Positions (N, 3) and colors (N, 3) in 0..1 (or None) of any PLY with x, y, z:
    a point cloud (COLMAP's, a scanner's) or a splat scene (its DC color)."""
    with _vertices(path) as vertices:
        names = set(vertices.names)
        if not {"x", "y", "z"} <= names:
            raise SetsplatError("PLY has no x, y, z properties", "it holds no points", path)
        xyz = np.stack([vertices.column(c) for c in "xyz"], 1).astype(np.float32)
        rgb = None
        for triple in (("red", "green", "blue"), ("r", "g", "b"),
                       ("diffuse_red", "diffuse_green", "diffuse_blue")):
            if set(triple) <= names:
                values = [vertices.column(c) for c in triple]
                kind = values[0].dtype
                scale = np.iinfo(kind).max if kind.kind in "ui" else 1.0
                rgb = np.clip(np.stack(values, 1).astype(np.float32) / scale, 0, 1)
                break
        else:
            if {"f_dc_0", "f_dc_1", "f_dc_2"} <= names:
                dc = np.stack([vertices.column(f"f_dc_{c}") for c in range(3)], 1)
                rgb = np.clip(shlib.dc_to_rgb(dc.astype(np.float32)), 0, 1)
    if not np.isfinite(xyz).all():
        raise SetsplatError("PLY has NaN or infinite positions", _FIX_HINT, path)
    return xyz, rgb


# ----------------------------------------------------------------------------- writing
def write_points(path: str | os.PathLike, xyz: np.ndarray, rgb: np.ndarray) -> None:
    """A colored point cloud (``x y z`` float, ``red green blue`` uchar), binary
    little-endian, written atomically; ``read_points`` reads it back."""
    xyz = np.asarray(xyz, np.float32).reshape(-1, 3)
    table = np.empty(len(xyz), np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                         ("red", "u1"), ("green", "u1"), ("blue", "u1")]))
    for i, c in enumerate("xyz"):
        table[c] = xyz[:, i]
    for i, c in enumerate(("red", "green", "blue")):
        table[c] = np.asarray(rgb).reshape(-1, 3)[:, i]
    header = "\n".join(["ply", "format binary_little_endian 1.0", f"element vertex {len(xyz)}",
                        *(f"property float {c}" for c in "xyz"),
                        *(f"property uchar {c}" for c in ("red", "green", "blue")),
                        "end_header"]) + "\n"
    with atomic_write(path) as f:
        f.write(header.encode("ascii"))
        f.write(table.tobytes())


def _layout(scene: GaussianScene) -> list[tuple[str, str]]:
    per_channel = scene.sh.shape[1] - 1
    names = ["x", "y", "z"]
    names += [n for n in _NORMALS if n in scene.extras]
    names += [f"f_dc_{c}" for c in range(3)]
    names += [f"f_rest_{i}" for i in range(3 * per_channel)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    props = [(n, "f4") for n in names]
    for key, value in scene.extras.items():
        if key in _NORMALS:
            continue
        code = np.asarray(value).dtype.str[1:]
        if code not in _TYPE_NAMES or np.asarray(value).ndim != 1:
            raise SetsplatError(f"extra property {key!r} has type {np.asarray(value).dtype} "
                                f"shape {np.asarray(value).shape}",
                                "PLY stores one number per splat per property")
        props.append((key, code))
    return props


def header_bytes(scene: GaussianScene, props: list[tuple[str, str]]) -> bytes:
    info = {"frame": scene.frame.name, "meta": scene.meta}
    if scene.frame.meters_per_unit != get_frame(scene.frame.name).meters_per_unit:
        info["meters_per_unit"] = scene.frame.meters_per_unit
    info = json.dumps(info, sort_keys=True, separators=(",", ":"), default=json_default)
    lines = ["ply", "format binary_little_endian 1.0", f"comment {_COMMENT_TAG}{info}"]
    if scene.meta.get("antialiased"):
        lines.append("comment SplatRenderMode: mip")
    lines.append(f"element vertex {len(scene)}")
    lines += [f"property {_TYPE_NAMES[code]} {name}" for name, code in props]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")




def write(path: str | os.PathLike, scene: GaussianScene) -> None:
    """Write the INRIA 3DGS layout, binary little-endian (atomically)."""
    props = _layout(scene)
    names = [name for name, _ in props]
    n = len(scene)
    per_channel = scene.sh.shape[1] - 1
    # sh (N, K, 3) flattened is k-major; the file wants f_dc then channel-major f_rest.
    sh_columns = [names.index(f"f_dc_{c}") if k == 0 else
                  names.index(f"f_rest_{c * per_channel + k - 1}")
                  for k in range(per_channel + 1) for c in range(3)]
    arrays = [scene.means, scene.quats, scene.log_scales, scene.opacity_logits.reshape(n, 1),
              scene.sh.reshape(n, len(sh_columns))]
    groups = [[names.index(c) for c in ("x", "y", "z")],
              [names.index(f"rot_{i}") for i in range(4)],
              [names.index(f"scale_{i}") for i in range(3)],
              [names.index("opacity")], sh_columns]
    for key in scene.extras:
        arrays.append(np.asarray(scene.extras[key]).reshape(n, 1))
        groups.append([names.index(key)])
    all_float = all(code == "f4" for _, code in props)
    with atomic_write(path) as f:
        f.write(header_bytes(scene, props))
        if all_float and n:
            _write_interleaved(f, arrays, groups, len(props))
        else:
            table = np.empty(n, np.dtype([(name, "<" + code) for name, code in props]))
            for array, group in zip(arrays, groups):
                for column, index in enumerate(group):
                    table[names[index]] = array[:, column]
            f.write(table.tobytes())


def _write_interleaved(f: BinaryIO, arrays: list[np.ndarray], groups: list[list[int]],
                       width: int) -> None:
    """The vertex rows, block by block, each written in place with ``pwrite`` by the
    thread that interleaved it. The file's room is reserved first: a full disk fails
    before any row is written, and ext4 then takes small writes as fast as one big one."""
    f.flush()
    fd, base = f.fileno(), f.tell()
    row_bytes = width * 4
    size = arrays[0].shape[0] * row_bytes
    try:
        if hasattr(os, "posix_fallocate"):  # not on macOS
            os.posix_fallocate(fd, base, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise  # ENOSPC: atomic_write reports it and removes the partial file

    def emit(first: int, rows: np.ndarray) -> None:
        data = memoryview(rows).cast("B")
        offset = base + first * row_bytes
        while data:
            written = os.pwrite(fd, data, offset)
            data, offset = data[written:], offset + written

    join_columns(arrays, groups, width, emit)
    f.seek(base + size)


def property_summary(path: str | Path) -> dict[str, Any]:
    """Format, element counts and comments of a PLY, without reading its data."""
    with _open(path) as f:
        header = read_header(f, path)
    return {
        "format": header.format,
        "elements": {e.name: e.count for e in header.elements},
        "properties": [name for name, _ in header.vertex.properties] if header.vertex else [],
        "comments": header.comments,
    }
