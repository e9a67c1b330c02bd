"""The ``unity`` package: the splats as a PLY for aras-p's UnityGaussianSplatting,
already in Unity's axes (Y up, left-handed, metres), the same splats as SPZ version 2
(the only SPZ version that importer reads), the proxy GLB, and a README."""

from __future__ import annotations

from pathlib import Path

from setsplat.core.frames import UNITY_GLTF
from setsplat.core.io import ply, spz
from setsplat.core.scene import GaussianScene
from setsplat.export import package
from setsplat.export.package import Export
from setsplat.export.proxy import package_proxy

UNITY_SPZ_VERSION = 2  # UnityGaussianSplatting's SPZ importer reads version 2 only


def write_target(target: str, source: GaussianScene, converted: GaussianScene, out: Path,
                 options, result: Export) -> None:
    del target
    with package.staging(out, options) as stage:
        name = options.name
        ply.write(stage / f"{name}.ply", package.engine_ply_scene(converted))
        spz_version = options.spz_version or UNITY_SPZ_VERSION
        spz.write(stage / f"{name}.spz", source, version=spz_version)
        mesh = package_proxy(stage, source, options, result, UNITY_GLTF)
        units = package.units_name(converted.frame, result.unscaled)
        sections = [
            ("Files", f"{name}.ply  the splats (INRIA PLY layout, SH degree 3) in Unity's "
                      "axes.\n"
                      f"{name}.spz  the same splats, about 10x smaller: SPZ version "
                      f"{spz_version} in SPZ's own axes (x right, y up, z back); the importer "
                      "converts them.\n"
                      + (f"{name}_proxy.glb  proxy mesh ({len(mesh.faces):,} triangles"
                         + (", watertight" if mesh.watertight else "") + ").\n"
                         if mesh is not None else "")
                      + "manifest.json  file list, SHA-256 sums, frame, units."),
            ("Import the splats (aras-p UnityGaussianSplatting)", f"""\
1. Add the UnityGaussianSplatting package to the project.
2. Tools > Gaussian Splats > Create GaussianSplatAsset; Input PLY File: {name}.ply
   (or {name}.spz); pick a quality; Create Asset.
3. GameObject > Create Empty, Add Component > Gaussian Splat Renderer, assign the asset.
4. Leave the Transform at Position 0,0,0 / Rotation 0,0,0 / Scale 1,1,1."""),
            ("Frame, units and the transform applied", f"""\
The PLY is already in Unity's frame: x right, y up, z forward, left-handed, lengths
in {units}. setsplat converted positions, rotations and spherical harmonics from
the training frame (a mirror of y: no rotation or negative scale is needed in Unity,
unlike raw training PLYs, which need Rotation X 180 and Scale Z -1 and then have
mirrored view-dependent color).
Check: in Unity the set should span (1-99 % of splats)
{package.bounds_text(converted)}."""),
        ]
        if mesh is not None:
            convex = " (watertight, so it can be Convex)" if mesh.watertight else ""
            sections.append(("Import the proxy mesh", f"""\
1. Import {name}_proxy.glb with glTFast or UnityGLTF (drop it into Assets).
2. Drag it into the scene at Position 0,0,0 / Rotation 0,0,0 / Scale 1,1,1.
   Both importers mirror glTF's X axis into Unity; the mesh was written turned 180°
   about Y (x left, y up, z forward) to compensate, so it lands on the splats.
3. For collision add a Mesh Collider{convex}; hide its renderer if it is for
   collision only."""))
        title = f"{name} — Unity package exported by setsplat"
        package.write_readme(stage, title, sections, result)
        package.write_manifest(stage, result)
