"""The ``web`` package: SPZ, GLB (KHR_gaussian_splatting) and .splat of one scene, each
in its format's own frame, with a README naming viewers that read them."""

from __future__ import annotations

from pathlib import Path

from setsplat.core.io import gltf, splat, spz
from setsplat.core.scene import GaussianScene
from setsplat.export import package
from setsplat.export.package import Export


def write_target(target: str, source: GaussianScene, converted: GaussianScene, out: Path,
                 options, result: Export) -> None:
    del target, converted
    with package.staging(out, options) as stage:
        name = options.name
        spz_version = options.spz_version or spz.VERSION
        spz.write(stage / f"{name}.spz", source, version=spz_version)
        gltf.write(stage / f"{name}.glb", source)
        splat.write(stage / f"{name}.splat", source)
        pages = options.page(stage, source) if options.page is not None else []
        units = package.units_name(gltf.FRAME, result.unscaled)
        package.write_readme(stage, f"{name} — web package exported by setsplat", [
            ("Files", f"""\
{name}.spz    Niantic SPZ v{spz_version}, the smallest (three.js with Spark, Babylon.js,
              PlayCanvas, Niantic's viewers). Stored right/up/back (RUB), {units}.
{name}.glb    glTF 2.0 with KHR_gaussian_splatting (CesiumJS, Babylon.js and other
              Khronos-conformant viewers; others show a point cloud). Y up, {units}.
{name}.splat  antimatter15's .splat (its viewer, SuperSplat, GaussianSplats3D). The
              3DGS training frame (x right, y down, z forward), SH degree 0 only.
manifest.json file list and SHA-256 sums.""" + ("""
index.html    the set in any web browser: open it from a web server (see Serving);
              orbit with the mouse, fly with W/A/S/D, Q/E and the arrow keys. It
              needs nothing from the internet.""" if pages else "")),
            ("Serving", "Serve the files over HTTP with their plain bytes (do not let the "
                        "server gzip .spz again); .glb as model/gltf-binary. Any static "
                        "server works for index.html, e.g. "
                        "`python3 -m http.server -d THIS_FOLDER`."),
        ], result)
        package.write_manifest(stage, result)
