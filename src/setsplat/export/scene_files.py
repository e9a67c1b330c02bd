"""Single-file targets: ply, splat, spz, sog, gltf (GLB), usd, usdz — one scene file (or,
with levels of detail, a chain of them or streamed SOG), a short README.txt (frame,
units, scale) and manifest.json."""

from __future__ import annotations

from pathlib import Path

from setsplat.core.errors import SetsplatError
from setsplat.core.io import write_scene
from setsplat.core.io.spz import VERSION as SPZ_VERSION
from setsplat.core.scene import GaussianScene
from setsplat.export import lod, package
from setsplat.export.package import Export

SUFFIX = {"ply": ".ply", "splat": ".splat", "spz": ".spz", "sog": ".sog", "gltf": ".glb",
          "usd": ".usdc", "usdz": ".usdz"}
ABOUT = {
    "ply": "INRIA 3DGS PLY (binary, channel-major f_rest): opens in every splat tool.",
    "splat": ".splat (antimatter15 web viewer layout, 32 bytes a splat, SH degree 0).",
    "spz": "Niantic SPZ version {spz_version} (about 10x smaller than PLY; version 4 is "
           "zstd-compressed, 2 and 3 gzip).",
    "sog": "PlayCanvas SOG (lossless WebP images and meta.json in a ZIP; about 15-20x "
           "smaller than PLY): SuperSplat, the PlayCanvas engine, Spark.",
    "gltf": "glTF 2.0 binary with KHR_gaussian_splatting (POINTS primitive; viewers without "
            "the extension show a point cloud).",
    "usd": "USD stage with a UsdVol.ParticleField3DGaussianSplat prim.",
    "usdz": "USDZ package of the USD stage.",
}


def write_scene_file(target: str, scene: GaussianScene, path: Path,
                     asset_layer: Path | None = None, spz_version: int | None = None) -> None:
    """One scene file; ``usdz`` packs a catalog asset's own USD (all its variants and
    payloads) when the scene came from one, else a stage holding the splats."""
    if target == "spz":
        write_scene(path, scene, version=spz_version or SPZ_VERSION)
        return
    if target not in ("usd", "usdz"):
        write_scene(path, scene)
        return
    from setsplat.core.io import usd

    if target == "usd":
        usd.write(path, scene)
        return
    from pxr import UsdUtils

    if asset_layer is not None:
        root = asset_layer
    else:
        root = path.with_name(f".{path.stem}.usdc")
        usd.write(root, scene)
    try:
        packed = UsdUtils.CreateNewUsdzPackage(str(root), str(path))
    finally:
        if asset_layer is None:
            root.unlink(missing_ok=True)
    if not packed or not path.is_file():
        raise SetsplatError("USD could not pack the USDZ (see the USD messages above)",
                            "export to usd instead", path)


def write_target(target: str, source: GaussianScene, converted: GaussianScene, out: Path,
                 options, result: Export) -> None:
    del source  # the converted scene is what goes into the file
    with package.staging(out, options) as stage:
        name = f"{options.name}{SUFFIX[target]}"
        sections = [("What", ABOUT[target].format(spz_version=options.spz_version or SPZ_VERSION))]
        if options.lod:
            name, levels_text = _write_levels(target, converted, stage, options, result)
            sections.append(("Levels of detail", levels_text))
        else:
            # a whole catalog asset is packed only when no splats were left out
            selected = (options.crop or options.max_splats or options.budget
                        or options.sh_degree is not None)
            write_scene_file(target, converted, stage / name,
                             None if selected else options.asset_layer, options.spz_version)
        units = package.units_name(converted.frame, result.unscaled)
        sections.append(("Frame and units", f"{converted.frame.description}; lengths in "
                                            f"{units}. Bounds (1–99 %): "
                                            f"{package.bounds_text(converted)}."))
        package.write_readme(stage, f"{name} — exported by setsplat", sections, result)
        package.write_manifest(stage, result)


def _write_levels(target: str, scene: GaussianScene, stage: Path, options,
                  result: Export) -> tuple[str, str]:
    """The levels of detail: streamed SOG, or a chain of files. (The name to show, the
    README's text.)"""
    levels = lod.level_indices(scene, options.lod)
    counts = [len(level) for level in levels]
    result.details["levels"] = counts
    listing = ", ".join(f"{count:,}" for count in counts)
    if target == "sog":
        from setsplat.core.io import sog

        sog.write_streamed(stage, scene, levels)
        return sog.LOD_META, (
            f"Streamed SOG: {len(levels)} levels ({listing} splats), each cut into chunks "
            f"along a spatial tree. Serve the folder as it is and load {sog.LOD_META} in "
            "the PlayCanvas engine or SuperSplat's viewer: they stream each region at the "
            "level its distance calls for, within the device's splat budget.")
    names = lod.chain_names(options.name, SUFFIX[target], len(levels))
    for file, level in zip(names, levels):
        write_scene_file(target, scene.subset(level), stage / file,
                         spz_version=options.spz_version)
    lines = [f"{file:24} {count:>12,} splats" for file, count in zip(names, counts)]
    return names[0], ("Each file half the splats of the one before (the most important "
                      "ones kept); load the one the device can draw:\n" + "\n".join(lines))
