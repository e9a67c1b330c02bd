"""The ``mesh`` target: the proxy mesh alone, as GLB, OBJ and USD (Y up, metres)."""

from __future__ import annotations

from pathlib import Path

from setsplat.core.frames import YUP, Frame, convert_scene
from setsplat.core.scene import GaussianScene
from setsplat.export import package
from setsplat.export.package import Export
from setsplat.mesh import ProxyMesh, build_proxy, write_glb, write_obj, write_usd


def write_target(target: str, source: GaussianScene, converted: GaussianScene, out: Path,
                 options, result: Export) -> None:
    del target, converted
    mesh = proxy_mesh(source, options, result)
    with package.staging(out, options) as stage:
        base = f"{options.name}_proxy"
        write_glb(stage / f"{base}.glb", mesh)
        write_obj(stage / f"{base}.obj", mesh)
        write_usd(stage / f"{base}.usda", mesh)
        package.write_readme(stage, f"{base} — proxy mesh exported by setsplat", [
            ("What", f"A {len(mesh.faces):,}-triangle proxy of the splat scene (Poisson "
                     "surface of the splat centres, vertex colors from the splats), for "
                     "collision, layout and shadow casting. "
                     + ("It is watertight (closed), usable as a collision mesh."
                        if mesh.watertight else "It is open where the scan had no surface.")),
            ("Frame and units", "Y up, right-handed; lengths in "
                                f"{package.units_name(mesh.frame, result.unscaled)}: the glTF "
                                "and USD convention. The OBJ uses the same axes."),
        ], result)
        package.write_manifest(stage, result)


def package_proxy(stage: Path, scene: GaussianScene, options, result: Export,
                  importer_frame: Frame) -> ProxyMesh | None:
    """The proxy GLB of an engine package (None when ``options.proxy`` is off), in the
    axes the engine's glTF importers read (``UNREAL_GLTF``, ``UNITY_GLTF``), so that
    imported at the origin it lies on the splats."""
    if not options.proxy:
        return None
    mesh = proxy_mesh(scene, options, result).in_frame(importer_frame)
    write_glb(stage / f"{options.name}_proxy.glb", mesh)
    return mesh


def proxy_mesh(scene: GaussianScene, options, result: Export) -> ProxyMesh:
    """The proxy the asset was published with, when a whole asset is exported with the
    same mesh options: the engine gets the collision mesh the stage has, and nobody waits
    for Poisson twice. Otherwise one built from ``scene``. Its size goes into ``result``."""
    mesh = None
    if options.asset_layer is not None and not (options.crop or options.max_splats):
        from setsplat.assets.usd_asset import read_proxy_mesh

        mesh = read_proxy_mesh(options.asset_layer, options.mesh)
    if mesh is None:
        mesh = build_proxy(convert_scene(scene, YUP), options.mesh, options.cameras)
    result.details["mesh"] = {"triangles": len(mesh.faces), "vertices": len(mesh.vertices),
                              "watertight": mesh.watertight}
    return mesh
