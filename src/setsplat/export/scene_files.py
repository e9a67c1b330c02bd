"""Single-file targets: ply, splat, spz, gltf (GLB), usd, usdz — one scene file, a short
README.txt (frame, units, scale) and manifest.json."""

from __future__ import annotations

from pathlib import Path

from setsplat.core.errors import SetsplatError
from setsplat.core.io import write_scene
from setsplat.core.scene import GaussianScene
from setsplat.export import package
from setsplat.export.package import Export

SUFFIX = {"ply": ".ply", "splat": ".splat", "spz": ".spz", "gltf": ".glb", "usd": ".usdc",
          "usdz": ".usdz"}
ABOUT = {
    "ply": "INRIA 3DGS PLY (binary, channel-major f_rest): opens in every splat tool.",
    "splat": ".splat (antimatter15 web viewer layout, 32 bytes a splat, SH degree 0).",
    "spz": "Niantic SPZ version 3 (gzip; about 10x smaller than PLY).",
    "gltf": "glTF 2.0 binary with KHR_gaussian_splatting (POINTS primitive; viewers without "
            "the extension show a point cloud).",
    "usd": "USD stage with a UsdVol.ParticleField3DGaussianSplat prim.",
    "usdz": "USDZ package of the USD stage.",
}


def write_scene_file(target: str, scene: GaussianScene, path: Path,
                     asset_layer: Path | None = None) -> None:
    """One scene file; ``usdz`` packs a catalog asset's own USD (all its variants and
    payloads) when the scene came from one, else a stage holding the splats."""
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
    with package.staging(out) as stage:
        name = f"{options.name}{SUFFIX[target]}"
        # a whole catalog asset is packed only when no splats were left out
        selected = options.crop or options.max_splats or options.sh_degree is not None
        write_scene_file(target, converted, stage / name, None if selected else options.asset_layer)
        units = package.units_name(converted.frame, result.unscaled)
        package.write_readme(stage, f"{name} — exported by setsplat", [
            ("What", ABOUT[target]),
            ("Frame and units", f"{converted.frame.description}; lengths in {units}. "
                                f"Bounds (1–99 %): {package.bounds_text(converted)}."),
        ], result)
        package.write_manifest(stage, result)
