"""USD: `setsplat assets publish` against NVIDIA's usd-convert-gsplat, same PLY, one run.

    .venv/bin/python benchmarks/usd.py [--splats 1000000] [--peer-venv DIR] [--no-peer]

The input is a 1M-splat SH-degree-3 INRIA PLY written by gsply (neither tool's own
dialect). Each tool runs once as its own process; wall time, CPU time and peak RSS
come from ``os.wait4`` on that process. Ours is the whole publish without thumbnails or
proxy mesh (full payload, preview LOD, placeholder mesh, interface layer, provenance,
SHA-256 and fsync of every file, catalog transaction), then with the open3d proxy mesh,
then with thumbnails too (the default publish), each when installed; the codec alone
(PLY -> one .usdc) is listed too, as the like-for-like figure. The peer lives in its
own venv (it pins numpy==2.3.1), made on first use with pip; ``--peer-venv`` points at
an existing one.

Then both tools convert a small scene and the two stages are compared attribute by
attribute: names, types, interpolation, elementSize, and values once our Y-up
conversion (RDF -> RUB: y and z negated, a half turn about x) is applied to theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from io_ply import make_input  # the same gsply-written input as the PLY benchmark
from setsplat.assets.thumbnails import renderer_available

PEER_PACKAGE = "usd-convert-gsplat[usd]==0.1.15"
DEFAULT_PEER_VENV = Path(tempfile.gettempdir()) / "setsplat-bench-nvidia"

CODEC_ONLY = """
import sys
from setsplat.core.io import ply, usd
usd.write(sys.argv[2], ply.read(sys.argv[1]))
"""

COMPARE = """
import json, sys
import numpy as np
from pxr import Usd, UsdGeom, UsdVol
from setsplat.core.frames import frame_change
from setsplat.core.rotation import quat_to_matrix
from setsplat.core.sh import transform_sh

def load(path):
    stage = Usd.Stage.Open(path)
    prims = [p for p in stage.Traverse() if p.IsA(UsdVol.ParticleField3DGaussianSplat)]
    prim = prims[0]
    attrs = {}
    for a in prim.GetAuthoredAttributes():
        pv = UsdGeom.Primvar(a)
        attrs[a.GetName()] = {
            "type": str(a.GetTypeName()),
            "interpolation": pv.GetInterpolation() if pv.HasAuthoredInterpolation() else None,
            "elementSize": pv.GetElementSize() if pv.HasAuthoredElementSize() else None,
            "value": a.Get(),
        }
    return stage, prim, len(prims), attrs

_, q = frame_change("rdf", "yup")
theirs_stage, _, theirs_count, theirs = load(sys.argv[1])
ours_stage, _, ours_count, ours = load(sys.argv[2])
rows = []
for name in sorted(set(theirs) | set(ours)):
    t, o = theirs.get(name), ours.get(name)
    row = {"attribute": name, "theirs": t and t["type"], "ours": o and o["type"]}
    if t and o:
        row["meta"] = (t["interpolation"], t["elementSize"]) == (o["interpolation"],
                                                                o["elementSize"])
        tv, ov = np.asarray(t["value"]), np.asarray(o["value"])
        if name == "positions":
            diff = np.abs(tv @ q.T - ov).max()
        elif name == "orientations":
            turn = quat_to_matrix(np.array([0.0, 1.0, 0.0, 0.0]))  # q as a rotation
            rt = turn @ quat_to_matrix(np.roll(tv, 1, axis=1).astype(np.float64))
            ro = quat_to_matrix(np.roll(ov, 1, axis=1).astype(np.float64))
            diff = np.abs(rt - ro).max()
        elif name == "radiance:sphericalHarmonicsCoefficients":
            k = o["elementSize"]
            moved = transform_sh(tv.reshape(-1, k, 3).astype(np.float32), q).reshape(-1, 3)
            diff = np.abs(moved - ov).max()
        elif name == "extent":
            diff = None  # ours bounds the splats to 3 sigma, theirs only the centres
            mapped = np.array(tv, np.float64) @ q.T
            inside = (ov[0] <= mapped.min(0)).all() and (ov[1] >= mapped.max(0)).all()
            row["note"] = "ours (3 sigma) contains theirs (centres)" if inside else "differs"
        elif tv.dtype.kind in "fiu" and tv.shape == ov.shape:
            diff = np.abs(tv.astype(np.float64) - ov).max()
        else:
            diff = None if tv.shape != ov.shape else float(not np.array_equal(tv, ov))
        row["max_diff"] = None if diff is None else float(diff)
    rows.append(row)
def stage_info(stage):
    return {"upAxis": UsdGeom.GetStageUpAxis(stage),
            "metersPerUnit": UsdGeom.GetStageMetersPerUnit(stage),
            "defaultPrim": stage.GetDefaultPrim().GetTypeName()}
print(json.dumps({"rows": rows, "prims": [theirs_count, ours_count],
                  "stage": [stage_info(theirs_stage), stage_info(ours_stage)]}))
"""


def measure(command: list[str]) -> dict:
    """Wall, CPU and peak RSS of one child process (and anything it waited for)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if process.returncode:
        raise SystemExit(f"{command[0]} failed ({process.returncode}):\n{error}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024}


def peer_venv(path: Path) -> Path:
    exe = path / "bin" / "usd-convert-gsplat"
    if not exe.exists():
        print(f"installing {PEER_PACKAGE} into {path} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", PEER_PACKAGE], check=True)
    return exe


def compare_conventions(tmp: Path, peer: Path) -> dict:
    from setsplat.core.io import ply

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import random_scene

    small = tmp / "small.ply"
    ply.write(small, random_scene(300, degree=3, seed=4))
    subprocess.run([str(peer), "-i", str(small), "-o", str(tmp / "theirs.usda")], check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-c", CODEC_ONLY, str(small), str(tmp / "ours.usda")],
                   check=True)
    out = subprocess.run([sys.executable, "-c", COMPARE, str(tmp / "theirs.usda"),
                          str(tmp / "ours.usda")], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splats", type=int, default=1_000_000)
    parser.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV)
    parser.add_argument("--no-peer", action="store_true", help="only time setsplat")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results, conventions = {}, None
    with tempfile.TemporaryDirectory(prefix="setsplat-bench-usd-") as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "input.ply"
        make_input(source, args.splats)
        peer = None if args.no_peer else peer_venv(args.peer_venv)
        # one untimed publish: numba's on-disk cache and pxr's plugin registry, as installed
        subprocess.run([sys.executable, "-m", "setsplat.cli.main", "-q", "assets", "publish",
                        str(source), "--name", "Warmup", "--library", str(tmp / "warm")],
                       check=True, stdout=subprocess.DEVNULL)
        publish = [sys.executable, "-m", "setsplat.cli.main", "-q", "assets", "publish",
                   str(source), "--library", str(tmp / "lib")]
        runs = {"setsplat publish": ("Bench", "--no-thumbnails", "--no-mesh"),
                "  + proxy mesh": ("Mesh", "--no-thumbnails"),
                "  + mesh, thumbnails": ("Thumbs",)}
        if not renderer_available():
            del runs["  + mesh, thumbnails"]
        for tool, (name, *flags) in runs.items():
            results[tool] = measure([*publish, "--name", name, *flags])
        for tool, (name, *_) in runs.items():
            results[tool]["out_mb"] = sum(p.stat().st_size for p in (
                tmp / "lib" / "assets" / name).rglob("*") if p.is_file()) / 1e6
        results["setsplat codec"] = measure(
            [sys.executable, "-c", CODEC_ONLY, str(source), str(tmp / "ours.usdc")])
        results["setsplat codec"]["out_mb"] = (tmp / "ours.usdc").stat().st_size / 1e6
        if peer:
            results["usd-convert-gsplat"] = measure(
                [str(peer), "-i", str(source), "-o", str(tmp / "theirs.usdc")])
            results["usd-convert-gsplat"]["out_mb"] = (tmp / "theirs.usdc").stat().st_size / 1e6
            conventions = compare_conventions(tmp, peer)
    if args.json:
        print(json.dumps({"results": results, "conventions": conventions}, indent=1))
        return
    print(f"{args.splats:,} splats, SH degree 3; one run each, in its own process "
          f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n")
    print(f"{'tool':22s} {'wall s':>7s} {'cpu s':>7s} {'peak MB':>8s} {'out MB':>7s}")
    for tool, r in results.items():
        print(f"{tool:22s} {r['wall']:7.2f} {r['cpu']:7.2f} {r['peak_mb']:8.0f} "
              f"{r['out_mb']:7.1f}")
    if "usd-convert-gsplat" in results:
        them = results["usd-convert-gsplat"]
        print()
        for tool in ("setsplat publish", "setsplat codec"):
            us = results[tool]
            print(f"{tool:22s} vs peer: wall x{them['wall'] / us['wall']:.1f} faster, "
                  f"cpu x{them['cpu'] / us['cpu']:.1f}, peak memory "
                  f"{us['peak_mb'] / them['peak_mb']:.2f} of theirs")
    if conventions:
        print("\nconventions on a 300-splat scene (theirs mapped to Y-up where it matters):")
        print(f"  stages: theirs {conventions['stage'][0]}, ours {conventions['stage'][1]}")
        print(f"  splat prims: theirs {conventions['prims'][0]}, ours {conventions['prims'][1]}")
        print(textwrap.indent("\n".join(
            f"{r['attribute']:42s} {r['theirs']!s:10s} {r['ours']!s:10s} "
            f"meta {'same' if r.get('meta') else r.get('meta', '-')!s:5s} "
            f"max diff {r.get('max_diff', '-')!s:24s} {r.get('note', '')}"
            for r in conventions["rows"]), "  "))


if __name__ == "__main__":
    main()
