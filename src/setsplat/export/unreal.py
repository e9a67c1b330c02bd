"""The ``unreal`` package: the splats as an INRIA PLY and as SPZ for Unreal's splat
importers (UEFN's own reads both; the 3DGS plugins read the PLY), the proxy mesh as
GLB in the axes Unreal's glTF importers read, shot cameras as USD, and a README with
the placement transform and which importer reads which file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from setsplat.core.frames import UNREAL_GLTF, convert_scene, frame_change
from setsplat.core.io import ply, spz
from setsplat.core.scene import GaussianScene
from setsplat.export import package
from setsplat.export.package import Export
from setsplat.export.proxy import package_proxy
from setsplat.export.usd_cameras import write_camera_track_usd, write_cameras_usd

# Version 2 is the one every SPZ reader takes (Niantic's loader reads 1-4, older builds
# of it and Unity's importer stop at 2 or 3); --spz-version overrides it.
UNREAL_SPZ_VERSION = 2

IMPORTERS = """\
Which importer reads which file (from each one's own documentation):
- UEFN (Unreal Editor for Fortnite): its Gaussian Splat importer takes binary PLY
  and SPZ files ({name}.ply or {name}.spz) and makes a Gaussian Splat asset; drag it
  into the viewport for a Gaussian Splat actor (Epic: "Gaussian Splats technical
  reference in UEFN").
- XV3DGS (XVERSE, UE 5.1-5.3): Window > XV3dgs > Load PLY, choose {name}.ply; it
  builds LODs and a blueprint to drag into the level.
- MLSLabs GaussianSplattingRenderer (UE 5.5-5.7): Window > import single file,
  choose {name}.ply.
- Cesium for Unreal: reads splats only as glTF with KHR_gaussian_splatting inside a
  3D Tiles tileset (make the glTF with `setsplat export gltf`); 3D Tiles turns glTF's
  Y up into its own Z up, then Cesium georeferences the tileset.
None of these documents how it maps the PLY's or SPZ's axes into Unreal. Place the
actor at Location 0,0,0 / Rotation 0,0,0 / Scale 1,1,1 and compare its extent with
the bounds below; if the set comes in turned, give the actor the placement matrix
below instead."""


def placement(converted: GaussianScene) -> np.ndarray:
    """4x4 taking the PLY's coordinates to Unreal's (X forward, Y right, Z up, cm)."""
    scale, q = frame_change(converted.frame, "unreal")
    matrix = np.eye(4)
    matrix[:3, :3] = scale * q
    return matrix


def write_target(target: str, source: GaussianScene, converted: GaussianScene, out: Path,
                 options, result: Export) -> None:
    del target
    matrix = placement(converted)
    in_unreal = convert_scene(source, "unreal")
    result.details["placement"] = matrix.tolist()
    with package.staging(out, options) as stage:
        name = options.name
        ply.write(stage / f"{name}.ply", package.engine_ply_scene(converted))
        spz_version = options.spz_version or UNREAL_SPZ_VERSION
        spz.write(stage / f"{name}.spz", source, version=spz_version)
        mesh = package_proxy(stage, source, options, result, UNREAL_GLTF)
        if options.cameras:
            write_cameras_usd(stage / "cameras.usda", options.cameras)
        for track in options.camera_tracks:
            write_camera_track_usd(stage / "shots" / f"{track.name}.usda", track)
        units = package.units_name(converted.frame, result.unscaled)
        sections = [
            ("Files", f"{name}.ply  the splats: INRIA 3DGS PLY (SH degree 3, 248 bytes a "
                      "splat), the layout every Unreal 3DGS plugin imports.\n"
                      f"{name}.spz  the same splats as Niantic SPZ version {spz_version} "
                      "(about 10x smaller), "
                      "stored x right, y up, z back in metres as SPZ defines.\n"
                      + (f"{name}_proxy.glb  proxy mesh for collision and layout "
                         f"({len(mesh.faces):,} triangles"
                         + (", watertight" if mesh.watertight else "") + ").\n"
                         if mesh is not None else "")
                      + ("cameras.usda  the shot cameras (USD, Y up, metres).\n"
                         if options.cameras else "")
                      + ("shots/<Shot>.usda  one animated camera per shot (USD, Y up, "
                         "metres, frame range and rate set).\n"
                         if options.camera_tracks else "")
                      + "manifest.json  file list, SHA-256 sums, frame, units, transform."),
            ("Import the splats", IMPORTERS.format(name=name)),
            ("Frame, units and the transform applied", f"""\
The PLY keeps the training (COLMAP/OpenCV) frame: x right, y down, z forward,
lengths in {units}; the scene is upright in that frame (floor towards +y). The SPZ
holds the same splats in SPZ's own axes (x right, y up, z back). In Unreal's Z-up,
left-handed, centimetre world the set belongs at Unreal = M · PLY, i.e.
X = {matrix[0, 2]:g}·z, Y = {matrix[1, 0]:g}·x, Z = {matrix[2, 1]:g}·y; the proxy mesh and the
cameras are placed for that mapping:
{package.matrix_text(matrix)}
An importer that takes the PLY's numbers as Unreal coordinates unchanged needs this
matrix as the actor's transform.
Check: in Unreal the set should span (1-99 % of splats, cm)
{package.bounds_text(in_unreal)}."""),
        ]
        if mesh is not None:
            open_note = "" if mesh.watertight else (
                " (the mesh is open: re-export with a watertight mesh for simple collision)")
            sections.append(("Import the proxy mesh", f"""\
1. Import {name}_proxy.glb (File > Import Into Level, or Content Browser > Import).
   Unreal's glTF importers (the glTF Importer plugin and Interchange, both reading
   through GLTFCore) turn glTF's right-handed Y-up metres into Unreal's left-handed
   Z-up centimetres by swapping y and z: Unreal = 100·(x, z, y) of the file. The mesh
   is stored for that reading (x forward, y up, z right), so it comes in on the
   splats' axes, not turned 90° about Z.
2. Place it at Location 0,0,0 / Rotation 0,0,0 / Scale 1,1,1: it overlaps the splats.
3. For collision: Static Mesh editor > Collision Complexity > Use Complex Collision
   As Simple{open_note}.
4. Hide it in game (Actor > Rendering > Visible off) if it is for collision only."""))
        if options.cameras:
            sections.append(("Shot cameras", """\
File > Import Into Level > cameras.usda (or open it in a USD Stage actor): one
CineCamera per camera, already placed relative to the splats."""))
        if options.camera_tracks:
            listing = "\n".join(f"  shots/{t.name}.usda  frames {t.start_frame}-{t.end_frame} "
                                f"at {t.fps:g} fps" for t in options.camera_tracks)
            sections.append(("Shots", f"""\
{listing}
Open one in a USD Stage actor and its camera animates over the stage's frame range; or
File > Import Into Level with "Import animations" on, which creates a CineCamera and a
Level Sequence with the move. Focal length and filmback are authored in USD's lens
unit, tenths of a scene unit (0.35 = 35 mm on these metre stages)."""))
        title = f"{name} — Unreal package exported by setsplat"
        package.write_readme(stage, title, sections, result)
        package.write_manifest(stage, result)
