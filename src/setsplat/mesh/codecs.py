"""The proxy mesh in files: GLB, OBJ and USD writers, GLB and USD readers.

glTF and our USD stages are Y-up metres, so the writers take a mesh in the ``yup``
frame, or for GLB in the axes an engine's glTF importer reads (``GLTF_FRAMES``; the
frame is named in the file's extras); OBJ records its frame in a comment. glTF's
``COLOR_0`` and USD's ``displayColor`` are linear, so the splats' display-sRGB colors
are decoded into them; OBJ's vertex colors stay display values, as viewers show them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.color import linear_to_srgb, srgb_to_linear
from setsplat.core.frames import GLTF_FRAMES, YUP
from setsplat.core.fsutil import atomic_write
from setsplat.core.io import gltf
from setsplat.mesh.proxy import ProxyMesh


def write_glb(path: str | os.PathLike, mesh: ProxyMesh) -> None:
    """glTF/GLB: in the ``yup`` frame (glTF's own) or one of ``GLTF_FRAMES``."""
    if mesh.frame not in GLTF_FRAMES.values():
        raise ValueError("glTF meshes are Y-up metres: convert the mesh to 'yup' first")
    builder = gltf.GltfBuilder()
    colors = srgb_to_linear(np.clip(mesh.colors, 0, 1))
    attributes = {
        "POSITION": builder.accessor(mesh.vertices.astype(np.float32), bounds=True),
        "NORMAL": builder.accessor(mesh.normals.astype(np.float32)),
        "COLOR_0": builder.accessor(colors.astype(np.float32)),
    }
    indices = builder.accessor(mesh.faces.reshape(-1).astype(np.uint32),
                               target=gltf.ELEMENT_ARRAY_BUFFER, bounds=True)
    builder.mesh(attributes, mode=gltf.TRIANGLES, indices=indices, name="proxy",
                 extras={"setsplat": {"watertight": mesh.watertight,
                                      "frame": mesh.frame.name}})
    builder.save(path)


def write_obj(path: str | os.PathLike, mesh: ProxyMesh) -> None:
    """Wavefront OBJ with per-vertex colors (the common ``v x y z r g b`` extension)."""
    rows = np.concatenate([mesh.vertices, np.clip(mesh.colors, 0, 1)], 1)
    lines = [f"# setsplat proxy mesh, frame {mesh.frame.name} ({mesh.frame.description})"]
    lines += ["v " + " ".join(f"{v:.6g}" for v in row) for row in rows]
    lines += ["vn " + " ".join(f"{v:.5g}" for v in n) for n in mesh.normals]
    lines += [f"f {a}//{a} {b}//{b} {c}//{c}" for a, b, c in (mesh.faces + 1)]
    with atomic_write(path) as f:
        f.write(("\n".join(lines) + "\n").encode("ascii"))


def write_usd(path: str | os.PathLike, mesh: ProxyMesh, prim_path: str = "/Proxy/Mesh",
              documentation: str = "", custom_data: dict[str, Any] | None = None) -> None:
    """A USD stage with one UsdGeom.Mesh (Y up, metres, displayColor per vertex) at
    ``prim_path``, under Xforms; its top prim is the default prim."""
    from pxr import Gf, Sdf, Usd, UsdGeom, Vt

    if mesh.frame != YUP:
        raise ValueError("USD stages here are Y-up metres: convert the mesh to 'yup' first")
    path = Path(path)
    layer = Sdf.Layer.CreateAnonymous(path.suffix.lstrip("."))
    stage = Usd.Stage.Open(layer)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    mesh_path = Sdf.Path(prim_path)
    for parent in mesh_path.GetPrefixes()[:-1]:
        UsdGeom.Xform.Define(stage, parent)
    prim = UsdGeom.Mesh.Define(stage, mesh_path)
    stage.SetDefaultPrim(stage.GetPrimAtPath(mesh_path.GetPrefixes()[0]))
    prim.GetPrim().SetCustomDataByKey("setsplat:watertight", mesh.watertight)
    for key, value in (custom_data or {}).items():
        prim.GetPrim().SetCustomDataByKey(key, value)
    if documentation:
        prim.GetPrim().SetDocumentation(documentation)
    prim.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(mesh.vertices.astype(np.float32)))
    prim.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(mesh.faces), 3,
                                                                  np.int32)))
    prim.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(mesh.faces.reshape(-1)
                                                           .astype(np.int32)))
    prim.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(mesh.normals.astype(np.float32)))
    prim.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    prim.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    colors = prim.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex)
    linear = srgb_to_linear(np.clip(mesh.colors, 0, 1)).astype(np.float32)
    colors.Set(Vt.Vec3fArray.FromNumpy(linear))
    low, high = mesh.vertices.min(0), mesh.vertices.max(0)
    prim.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, low)),
                                         Gf.Vec3f(*map(float, high))]))
    data = layer.ExportToString().encode("utf-8")
    with atomic_write(path) as f:
        f.write(data)


def read_usd_prim(prim: Any) -> ProxyMesh:
    """The proxy on a UsdGeom.Mesh prim written by ``write_usd``."""
    from pxr import UsdGeom

    geometry = UsdGeom.Mesh(prim)
    faces = np.asarray(geometry.GetFaceVertexIndicesAttr().Get(), np.uint32).reshape(-1, 3)
    colors = linear_to_srgb(np.asarray(geometry.GetDisplayColorAttr().Get(), np.float64))
    return ProxyMesh(np.asarray(geometry.GetPointsAttr().Get(), np.float32), faces,
                     colors.astype(np.float32),
                     np.asarray(geometry.GetNormalsAttr().Get(), np.float32), YUP,
                     bool(prim.GetCustomDataByKey("setsplat:watertight")))


def read_glb(path: str | os.PathLike) -> ProxyMesh:
    """Read back a proxy written by ``write_glb`` (tests, and re-packaging)."""
    import pygltflib

    document = pygltflib.GLTF2().load(str(path))
    blob = document.binary_blob()
    primitive = document.meshes[0].primitives[0]

    def values(index: int, width: int, kind: str) -> np.ndarray:
        accessor = document.accessors[index]
        view = document.bufferViews[accessor.bufferView]
        return np.frombuffer(blob, kind, accessor.count * width,
                             view.byteOffset + (accessor.byteOffset or 0)).reshape(-1, width)

    a = primitive.attributes
    faces = values(primitive.indices, 1, "<u4").reshape(-1, 3)
    ours = (document.meshes[0].extras or {}).get("setsplat", {})
    colors = linear_to_srgb(values(a.COLOR_0, 3, "<f4")).astype(np.float32)
    return ProxyMesh(values(a.POSITION, 3, "<f4"), faces, colors, values(a.NORMAL, 3, "<f4"),
                     GLTF_FRAMES.get(ours.get("frame"), YUP),
                     bool(ours.get("watertight", False)))
