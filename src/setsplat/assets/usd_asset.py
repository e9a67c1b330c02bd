"""The USD asset of one version: an interface layer over payloads chosen by variants.

``<Name>.usda`` is what a stage references: a component model (``kind``, ``assetInfo``,
``extentsHint``, Y-up metres) whose variant sets ``representation`` {splats, mesh} and
``lod`` {full, preview} each hold their own payload, so a stage opens only the payload
it selected. ``lod`` is authored inside each representation, so both sets are always
there and the root prim's selection drives them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from setsplat.core.errors import SetsplatError
from setsplat.core.scene import GaussianScene

if TYPE_CHECKING:
    from setsplat.mesh import MeshOptions, ProxyMesh

PAYLOAD_DIR = "payload"
SPLATS_FULL = f"{PAYLOAD_DIR}/splats.usdc"
SPLATS_PREVIEW = f"{PAYLOAD_DIR}/preview.usdc"
MESH = f"{PAYLOAD_DIR}/mesh.usda"
REPRESENTATIONS = ("splats", "mesh")
LODS = ("full", "preview")
SPLATS_PRIM = "Splats"
MESH_PRIM = "ProxyMesh"
_MESH_OPTIONS_KEY = "setsplat:mesh_options"
# Which payload each (representation, lod) opens. The proxy mesh has one LOD: it is
# already light (tens of thousands of triangles).
PAYLOADS = {("splats", "full"): SPLATS_FULL, ("splats", "preview"): SPLATS_PREVIEW,
            ("mesh", "full"): MESH, ("mesh", "preview"): MESH}


@dataclass(frozen=True)
class PreviewConfig:
    """The preview LOD: the most important splats (opacity × volume) with fewer SH bands."""

    fraction: float = 0.1
    min_splats: int = 10_000
    sh_degree: int = 0


def preview_scene(scene: GaussianScene, config: PreviewConfig = PreviewConfig()) -> GaussianScene:
    keep = min(len(scene), max(config.min_splats, int(np.ceil(config.fraction * len(scene)))))
    if keep < len(scene):
        # log(opacity × volume), so tiny and huge splats compare without overflow
        importance = (-np.logaddexp(0.0, -scene.opacity_logits.astype(np.float64))
                      + scene.log_scales.astype(np.float64).sum(1))
        picked = np.sort(np.argpartition(-importance, keep - 1)[:keep])
        scene = scene.subset(picked)
    return scene.with_sh_degree(min(config.sh_degree, scene.sh_degree))


def write_proxy_mesh(path: str | os.PathLike, mesh: ProxyMesh, options: MeshOptions) -> None:
    """The ``mesh`` payload: the proxy (Y-up metres, like the splats) as the default prim,
    with the options it was built with (exports of the asset reuse it when theirs match)."""
    from setsplat.mesh import write_usd

    write_usd(path, mesh, f"/{MESH_PRIM}", documentation=(
        f"Proxy of the splats: {len(mesh.faces):,} triangles, "
        + ("closed (collision-ready)." if mesh.watertight else "open where the scan is.")),
        custom_data={_MESH_OPTIONS_KEY: _options_text(options)})


def read_proxy_mesh(interface: str | os.PathLike, options: MeshOptions) -> ProxyMesh | None:
    """The proxy published with the asset whose interface layer is ``interface``, if it
    was built with ``options``; None for a placeholder, other options, or an asset from
    before proxies were published."""
    from pxr import Usd

    from setsplat.mesh import read_usd_prim

    path = Path(interface).parent / MESH
    if not path.is_file():
        return None
    stage = Usd.Stage.Open(os.fspath(path))
    prim = stage.GetPrimAtPath(f"/{MESH_PRIM}")
    if not prim or prim.GetCustomDataByKey(_MESH_OPTIONS_KEY) != _options_text(options):
        return None
    return read_usd_prim(prim)


def _options_text(options: MeshOptions) -> str:
    return json.dumps(dataclasses.asdict(options), sort_keys=True)


def write_placeholder_mesh(path: str | os.PathLike, low: np.ndarray, high: np.ndarray) -> None:
    """A box over the splats' robust bounds, marked as a placeholder, for versions
    published without a proxy (``--no-mesh``, no mesh extra, or no surface found)."""
    from pxr import Sdf, Usd, UsdGeom, Vt

    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32)
    points = low + corners * (high - low)
    faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    stage = Usd.Stage.CreateInMemory(f"{MESH_PRIM}.usda")
    mesh = UsdGeom.Mesh.Define(stage, Sdf.Path.absoluteRootPath.AppendChild(MESH_PRIM))
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray([4] * 6))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray([i for face in faces for i in face]))
    mesh.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(np.stack([low, high])))
    mesh.CreateDisplayColorAttr(Vt.Vec3fArray([(0.6, 0.6, 0.6)]))
    prim = mesh.GetPrim()
    prim.SetCustomDataByKey("setsplat:placeholder", True)
    prim.SetDocumentation("Placeholder: the bounding box of the splats (1–99% of centres); "
                          "`setsplat export mesh` builds the proxy mesh.")
    stage.SetDefaultPrim(prim)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    stage.GetRootLayer().Export(os.fspath(path))


def write_interface(path: str | os.PathLike, name: str, version: int, extent: np.ndarray,
                    description: str = "", unscaled: bool = False) -> None:
    """The interface layer ``<Name>.usda`` with both variant sets and their payloads."""
    from pxr import Kind, Sdf, Usd, UsdGeom, Vt

    path = Path(path)
    stage = Usd.Stage.CreateInMemory(path.name, Usd.Stage.LoadNone)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    root = UsdGeom.Xform.Define(stage, Sdf.Path.absoluteRootPath.AppendChild(name)).GetPrim()
    stage.SetDefaultPrim(root)
    model = Usd.ModelAPI(root)
    model.SetKind(Kind.Tokens.component)
    model.SetAssetName(name)
    model.SetAssetVersion(str(version))
    model.SetAssetIdentifier(Sdf.AssetPath(f"./{path.name}"))
    UsdGeom.ModelAPI(root).SetExtentsHint(Vt.Vec3fArray.FromNumpy(
        np.asarray(extent, np.float32)))
    root.SetCustomDataByKey("setsplat:ref", f"{name}@{version}")
    root.SetCustomDataByKey("setsplat:unscaled", bool(unscaled))
    if description:
        root.SetDocumentation(description)
    spec = stage.GetRootLayer().GetPrimAtPath(root.GetPath())
    representations = Sdf.VariantSetSpec(spec, "representation")
    for rep in REPRESENTATIONS:
        variant = Sdf.VariantSpec(representations, rep).primSpec
        lods = Sdf.VariantSetSpec(variant, "lod")
        for level in LODS:
            inner = Sdf.VariantSpec(lods, level).primSpec
            child = Sdf.PrimSpec(inner, SPLATS_PRIM if rep == "splats" else MESH_PRIM,
                                 Sdf.SpecifierDef)
            child.payloadList.Prepend(Sdf.Payload(f"./{PAYLOADS[rep, level]}"))
        variant.variantSetNameList.Prepend("lod")
    spec.variantSetNameList.Prepend("representation")
    spec.variantSelections["representation"] = "splats"
    spec.variantSelections["lod"] = "full"
    stage.GetRootLayer().Export(os.fspath(path))


def open_asset(path: str | os.PathLike, representation: str = "splats", lod: str = "full",
               load: bool = True) -> Any:
    """A stage on the interface layer with the given variants selected (in the session
    layer, so the files stay untouched)."""
    from pxr import Sdf, Tf, Usd

    if representation not in REPRESENTATIONS or lod not in LODS:
        raise SetsplatError(f"unknown variant {representation}/{lod}",
                            f"representation is one of {REPRESENTATIONS}, lod of {LODS}")
    try:
        stage = Usd.Stage.Open(os.fspath(path), Usd.Stage.LoadNone)
    except Tf.ErrorException as exc:
        raise SetsplatError(f"USD cannot open the asset ({str(exc).strip().splitlines()[-1]})",
                            "run `setsplat assets verify`", path) from None
    root = stage.GetDefaultPrim()
    if not root:
        raise SetsplatError("the asset layer has no default prim", "run `setsplat assets verify`",
                            path)
    with Usd.EditContext(stage, stage.GetSessionLayer()):
        root.GetVariantSets().GetVariantSet("representation").SetVariantSelection(representation)
        root.GetVariantSets().GetVariantSet("lod").SetVariantSelection(lod)
    if load:
        stage.Load(Sdf.Path.absoluteRootPath)
    return stage


def splat_prim(stage: Any) -> Any:
    """The splat prim of an asset stage opened with representation=splats."""
    root = stage.GetDefaultPrim()
    prim = root.GetChild(SPLATS_PRIM) if root else None
    return prim if prim and prim.IsValid() else None
