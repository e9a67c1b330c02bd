"""glTF 2.0 / GLB with ``KHR_gaussian_splatting`` (the Khronos extension, ratified form).

Splats are one POINTS primitive whose attributes are ``POSITION`` (metres),
``KHR_gaussian_splatting:ROTATION`` (unit quaternion x, y, z, w),
``KHR_gaussian_splatting:SCALE`` (linear, not log), ``KHR_gaussian_splatting:OPACITY``
(0..1, after the sigmoid), ``KHR_gaussian_splatting:SH_DEGREE_l_COEF_n`` (raw RGB SH
coefficients, DC = degree 0) and a ``COLOR_0`` fallback (DC color and opacity) for
viewers that only draw points. The extension's ``colorSpace`` covers the splat data
only; ``COLOR_0`` is a core glTF attribute, which glTF defines as linear, so the
display-sRGB DC color is decoded to linear there (and encoded back when a file without
SH is read). The primitive's extension object names the ``ellipse``
kernel, the ``srgb_rec709_display`` color space, ``perspective`` projection and
``cameraDistance`` sorting. glTF is Y up, right-handed, metres: scenes are converted to
the ``yup`` frame through ``core.frames`` before writing. Our meta (unscaled,
antialiased, provenance) rides in the mesh's ``extras``.

All attributes are float32, so the round trip is exact up to float32 rounding of
``exp``/``log`` and the sigmoid: log-scales within 1e-6 relative, opacities within 6e-8
absolute (logits far from 0 lose precision accordingly; the rendered opacity does not),
everything else bit-exact in the ``yup`` frame. The reader also accepts the quantised
component types the extension allows, ``.gltf`` files with embedded or side-car
buffers, several splat primitives, and node transforms (similarities only).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from setsplat.core import sh as shlib
from setsplat.core.color import linear_to_srgb, srgb_to_linear
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import YUP, convert_scene
from setsplat.core.fsutil import atomic_write
from setsplat.core.io._common import read_bytes, read_file_bytes, sigmoid
from setsplat.core.jsonio import json_default
from setsplat.core.limits import inside
from setsplat.core.rotation import quat_to_matrix
from setsplat.core.scene import GaussianScene

EXTENSION = "KHR_gaussian_splatting"
FRAME = YUP
ROTATION, SCALE, OPACITY = (f"{EXTENSION}:{name}" for name in ("ROTATION", "SCALE", "OPACITY"))
EXTENSION_OBJECT = {"kernel": "ellipse", "colorSpace": "srgb_rec709_display",
                    "projection": "perspective", "sortingMethod": "cameraDistance"}
_FIX_HINT = "the file is damaged or not a glTF with KHR_gaussian_splatting; export it again"
_OPACITY_EDGE = 1e-7  # float opacities of exactly 0 or 1 decode to logits of about ∓16

# glTF accessor component types and element sizes.
_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
               5125: np.uint32, 5126: np.float32}
_CODES = {np.dtype(v): k for k, v in _COMPONENTS.items()}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_TYPE_OF_WIDTH = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
POINTS, TRIANGLES = 0, 4


def sh_attribute(degree: int, coefficient: int) -> str:
    return f"{EXTENSION}:SH_DEGREE_{degree}_COEF_{coefficient}"


# ----------------------------------------------------------------------------- building
class GltfBuilder:
    """Accumulates buffer views and accessors in one binary buffer; saves GLB or glTF.

    Shared by the splat codec and the proxy-mesh writer so both emit the same,
    validator-clean structure (4-byte aligned views, POSITION min/max, one node).
    """

    def __init__(self) -> None:
        import pygltflib

        self._gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0",
                                                           generator="setsplat"))
        self._blob = bytearray()

    def accessor(self, array: np.ndarray, *, target: int | None = ARRAY_BUFFER,
                 normalized: bool = False, bounds: bool = False) -> int:
        import pygltflib

        array = np.ascontiguousarray(array)
        width = 1 if array.ndim == 1 else array.shape[1]
        self._blob.extend(b"\0" * (-len(self._blob) % 4))
        view = pygltflib.BufferView(buffer=0, byteOffset=len(self._blob),
                                    byteLength=array.nbytes, target=target)
        self._blob.extend(array.astype(array.dtype.newbyteorder("<")).tobytes())
        self._gltf.bufferViews.append(view)
        acc = pygltflib.Accessor(bufferView=len(self._gltf.bufferViews) - 1,
                                 componentType=_CODES[array.dtype], count=len(array),
                                 type=_TYPE_OF_WIDTH[width], normalized=normalized or None)
        if bounds and len(array):
            flat = array.reshape(len(array), width)
            acc.min = [float(v) for v in flat.min(0)]
            acc.max = [float(v) for v in flat.max(0)]
        self._gltf.accessors.append(acc)
        return len(self._gltf.accessors) - 1

    def mesh(self, attributes: dict[str, int], *, mode: int, indices: int | None = None,
             extensions: dict[str, Any] | None = None, extras: dict | None = None,
             name: str | None = None) -> None:
        """One mesh with one primitive, on one node of the default scene."""
        import pygltflib

        primitive = pygltflib.Primitive(attributes=pygltflib.Attributes(**attributes),
                                        mode=mode, indices=indices,
                                        extensions=extensions or {})
        self._gltf.meshes.append(pygltflib.Mesh(primitives=[primitive], name=name,
                                                extras=extras or {}))
        self._gltf.nodes.append(pygltflib.Node(mesh=len(self._gltf.meshes) - 1, name=name))
        self._gltf.scenes = [pygltflib.Scene(nodes=list(range(len(self._gltf.nodes))))]
        self._gltf.scene = 0
        for extension in extensions or {}:
            if extension not in self._gltf.extensionsUsed:
                self._gltf.extensionsUsed.append(extension)

    def to_bytes(self, binary: bool) -> bytes:
        import pygltflib

        blob = bytes(self._blob) + b"\0" * (-len(self._blob) % 4)
        if binary:
            self._gltf.buffers = [pygltflib.Buffer(byteLength=len(blob))]
            self._gltf.set_binary_blob(blob)
            return b"".join(self._gltf.save_to_bytes())
        uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode("ascii")
        self._gltf.buffers = [pygltflib.Buffer(byteLength=len(blob), uri=uri)]
        return self._gltf.to_json(separators=(",", ":")).encode("utf-8")

    def save(self, path: str | os.PathLike) -> None:
        """Write ``.glb`` (binary) or ``.gltf`` (JSON, buffer embedded), atomically."""
        data = self.to_bytes(binary=Path(path).suffix.lower() != ".gltf")
        with atomic_write(path) as f:
            f.write(data)


def write(path: str | os.PathLike, scene: GaussianScene) -> None:
    """Write ``scene`` as a glTF/GLB splat primitive in the ``yup`` frame (metres)."""
    if scene.frame != FRAME:
        scene = convert_scene(scene, FRAME)
    builder = GltfBuilder()
    opacity = sigmoid(scene.opacity_logits).astype(np.float32)
    color = np.concatenate([srgb_to_linear(scene.colors), opacity[:, None]], 1)
    attributes = {
        "POSITION": builder.accessor(scene.means, bounds=True),
        "COLOR_0": builder.accessor(color.astype(np.float32)),
        ROTATION: builder.accessor(np.roll(scene.quats, -1, axis=1)),
        SCALE: builder.accessor(scene.scales.astype(np.float32)),
        OPACITY: builder.accessor(opacity),
    }
    for k in range(scene.sh.shape[1]):
        degree = int(np.sqrt(k))
        attributes[sh_attribute(degree, k - degree * degree)] = builder.accessor(scene.sh[:, k])
    extras = {"setsplat": {"meta": scene.meta}}
    builder.mesh(attributes, mode=POINTS, extensions={EXTENSION: dict(EXTENSION_OBJECT)},
                 extras=json.loads(json.dumps(extras, default=json_default)), name="splats")
    builder.save(path)


# ----------------------------------------------------------------------------- reading
class _Document:
    """A parsed glTF: its JSON and a way to read accessors as numpy arrays."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        data = read_bytes(path, _FIX_HINT)
        chunk = b""
        if data[:4] == b"glTF":
            self.json, chunk = self._split_glb(data)
        else:
            try:
                self.json = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise SetsplatError("not a glTF file (neither GLB nor JSON)", _FIX_HINT,
                                    path) from None
        if not isinstance(self.json, dict):
            raise SetsplatError("glTF JSON is not an object", _FIX_HINT, path)
        self.buffers = [self._buffer(b, chunk) for b in self.json.get("buffers", [])]

    def _split_glb(self, data: bytes) -> tuple[dict, bytes]:
        if len(data) < 20:
            raise SetsplatError("GLB is truncated", _FIX_HINT, self.path)
        length = int.from_bytes(data[8:12], "little")
        if length > len(data):
            raise SetsplatError(f"GLB is truncated ({len(data)} of {length} bytes)",
                                "the file was cut short; export it again", self.path)
        json_length = int.from_bytes(data[12:16], "little")
        try:
            document = json.loads(data[20:20 + json_length].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise SetsplatError("GLB JSON chunk is damaged", _FIX_HINT, self.path) from None
        rest = 20 + json_length
        binary = data[rest + 8:length] if length >= rest + 8 else b""
        return document, binary

    def _buffer(self, buffer: dict, chunk: bytes) -> bytes:
        """A buffer's bytes: the GLB chunk, a data: URI, or a file beside the glTF (never
        outside its folder, never more than its declared byteLength)."""
        if not isinstance(buffer, dict):
            raise SetsplatError("a buffer is not an object", _FIX_HINT, self.path)
        uri = buffer.get("uri")
        if uri is None:
            return chunk
        if not isinstance(uri, str):
            raise SetsplatError("a buffer's uri is not a string", _FIX_HINT, self.path)
        if uri.startswith("data:"):
            head, comma, payload = uri.partition(",")
            if not comma or not head.endswith(";base64"):
                raise SetsplatError("a data: URI is not base64 data", _FIX_HINT, self.path)
            try:
                return base64.b64decode(payload, validate=True)
            except ValueError:
                raise SetsplatError("a data: URI holds damaged base64", _FIX_HINT,
                                    self.path) from None
        if ":" in uri.split("/", 1)[0]:
            raise SetsplatError(f"buffer uri {uri!r} is not a file beside the glTF",
                                "keep buffers in the file or beside it", self.path)
        declared = buffer.get("byteLength")
        if type(declared) is not int or declared < 0:
            raise SetsplatError("a buffer has no valid byteLength", _FIX_HINT, self.path)
        target = inside(Path(self.path).parent, unquote(uri), "buffer uri", self.path)
        return read_file_bytes(target, declared, _FIX_HINT)

    def accessor(self, index: int) -> np.ndarray:
        """Values as float64 (normalised integers mapped to -1..1 or 0..1), shape (N, W)."""
        try:
            acc = self.json["accessors"][index]
            kind = np.dtype(_COMPONENTS[acc["componentType"]]).newbyteorder("<")
            width, count = _WIDTH[acc["type"]], acc["count"]
            if "bufferView" not in acc or acc.get("sparse"):
                raise SetsplatError("sparse or empty accessors are not supported", _FIX_HINT,
                                    self.path)
            view = self.json["bufferViews"][acc["bufferView"]]
            buffer = self.buffers[view["buffer"]]
            start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
            stride = view.get("byteStride") or kind.itemsize * width
            if not kind.itemsize * width <= stride <= 252:
                raise ValueError(f"byteStride {stride} is out of range")
            rows = np.ndarray((count, width), kind, buffer, start,
                              (stride, kind.itemsize)) if count else np.zeros((0, width), kind)
        except (KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
            raise SetsplatError(f"accessor {index} is malformed ({exc})", _FIX_HINT,
                                self.path) from None
        values = rows.astype(np.float64)
        if acc.get("normalized"):
            info = np.iinfo(kind)
            values = np.maximum(values / info.max, -1.0)
        return values


def _node_matrices(document: dict) -> list[tuple[int, np.ndarray]]:
    """(mesh index, world matrix) for every mesh instance in the default scene."""
    nodes = document.get("nodes", [])
    scenes = document.get("scenes", [])
    roots = (scenes[document.get("scene", 0)]["nodes"] if scenes
             else list(range(len(nodes))))
    found = []
    seen: set[int] = set()
    stack = [(root, np.eye(4)) for root in reversed(roots)]
    while stack:  # iterative: a deep or cyclic hierarchy cannot exhaust the stack
        index, parent = stack.pop()
        if type(index) is not int or index < 0 or index in seen:
            raise ValueError(f"node {index!r} is not a node index or is reached twice "
                             "(the node hierarchy must be a tree)")
        seen.add(index)
        node = nodes[index]
        world = parent @ _local_matrix(node)
        if "mesh" in node:
            found.append((node["mesh"], world))
        stack.extend((child, world) for child in reversed(node.get("children", [])))
    return found


def _vector(node: dict, key: str, default: list[float]) -> np.ndarray:
    value = np.asarray(node.get(key, default), dtype=np.float64)
    if value.shape != (len(default),) or not np.isfinite(value).all():
        raise ValueError(f"node {key} must be {len(default)} finite numbers")
    return value


def _local_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return _vector(node, "matrix", [0.0] * 16).reshape(4, 4).T  # column-major
    matrix = np.eye(4)
    x, y, z, w = _vector(node, "rotation", [0, 0, 0, 1])
    matrix[:3, :3] = quat_to_matrix(np.array([w, x, y, z])) * _vector(node, "scale", [1, 1, 1])
    matrix[:3, 3] = _vector(node, "translation", [0, 0, 0])
    return matrix


def _primitive_scene(doc: _Document, primitive: dict) -> GaussianScene:
    attributes = primitive.get("attributes", {})
    needed = ["POSITION", ROTATION, SCALE, OPACITY]
    missing = [name for name in needed if name not in attributes]
    if missing:
        raise SetsplatError(f"splat primitive lacks {', '.join(missing)}", _FIX_HINT, doc.path)
    coefficients = []
    for degree in range(shlib.MAX_DEGREE + 1):
        band = [sh_attribute(degree, n) for n in range(2 * degree + 1)]
        if not all(name in attributes for name in band):
            break
        coefficients += [doc.accessor(attributes[name]) for name in band]
    if not coefficients:
        if "COLOR_0" not in attributes:
            raise SetsplatError("splat primitive has neither SH nor COLOR_0 colors", _FIX_HINT,
                                doc.path)
        linear = doc.accessor(attributes["COLOR_0"])[:, :3]
        coefficients = [shlib.rgb_to_dc(linear_to_srgb(np.clip(linear, 0, 1)))]
    opacity = np.clip(doc.accessor(attributes[OPACITY])[:, 0], _OPACITY_EDGE,
                      1 - _OPACITY_EDGE)
    scales = doc.accessor(attributes[SCALE])
    if np.any(scales <= 0):
        raise SetsplatError("KHR_gaussian_splatting:SCALE has zero or negative values "
                            "(it must be linear, not log)", _FIX_HINT, doc.path)
    return GaussianScene(
        means=doc.accessor(attributes["POSITION"]),
        quats=np.roll(doc.accessor(attributes[ROTATION]), 1, axis=1),
        log_scales=np.log(scales),
        opacity_logits=np.log(opacity / (1 - opacity)),
        sh=np.stack(coefficients, 1),
        frame=FRAME,
    )


def read(path: str | os.PathLike) -> GaussianScene:
    """Read every KHR_gaussian_splatting primitive of a glTF/GLB into one scene (yup)."""
    parts, meta = [], None
    try:
        doc = _Document(path)
        for mesh_index, world in _node_matrices(doc.json):
            mesh = doc.json["meshes"][mesh_index]
            for primitive in mesh.get("primitives", []):
                if EXTENSION not in primitive.get("extensions", {}):
                    continue
                part = _primitive_scene(doc, primitive)
                if not np.allclose(world, np.eye(4)):
                    part = part.transform(world)
                parts.append(part)
                if meta is None:
                    meta = (mesh.get("extras") or {}).get("setsplat", {}).get("meta")
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise SetsplatError(f"glTF structure is malformed ({exc})", _FIX_HINT, path) from None
    except SetsplatError as exc:
        raise SetsplatError(exc.what, exc.hint, path) from None
    if not parts:
        raise SetsplatError(f"no primitive uses {EXTENSION}",
                            "this glTF holds no Gaussian splats", path)
    scene = parts[0] if len(parts) == 1 else GaussianScene.concat(parts)
    return scene.replace(meta=dict(meta) if isinstance(meta, dict) else {"unscaled": True})
