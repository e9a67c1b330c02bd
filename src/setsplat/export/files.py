"""Single-file targets: ply, splat, spz, gltf (GLB), usd, usdz — one scene file, a short
README.txt (frame, units, scale) and manifest.json."""

from __future__ import annotations

import importlib
from pathlib import Path

from setsplat.core.errors import SetsplatError
from setsplat.core.io import write_scene
from setsplat.core.scene import GaussianScene
from setsplat.export import package
from setsplat.export.package import Export

SUFFIX = {"ply": ".ply", "splat": ".splat", "spz": ".spz", "gltf": ".glb", "usd": ".usda",
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


def write_scene_file(target: str, scene: GaussianScene, path: Path) -> None:
    if target in ("usd", "usdz"):
        try:
            usd = importlib.import_module("setsplat.core.io.usd")
        except ImportError:
            raise SetsplatError(f"the {target} target needs the USD splat codec "
                                "(setsplat.core.io.usd), which this build lacks",
                                "export to gltf or ply instead") from None
        writer = usd.write_usdz if target == "usdz" else usd.write
        writer(path, scene)
        return
    write_scene(path, scene)


def write_target(target: str, source: GaussianScene, converted: GaussianScene, out: Path,
                 options, result: Export) -> None:
    del source  # the converted scene is what goes into the file
    with package.staging(out) as stage:
        name = f"{options.name}{SUFFIX[target]}"
        write_scene_file(target, converted, stage / name)
        units = package.units_name(converted.frame, result.unscaled)
        package.write_readme(stage, f"{name} — exported by setsplat", [
            ("What", ABOUT[target]),
            ("Frame and units", f"{converted.frame.description}; lengths in {units}. "
                                f"Bounds (1–99 %): {package.bounds_text(converted)}."),
        ], result)
        package.write_manifest(stage, result)
