"""SfM: setsplat's defaults against plain pycolmap defaults, in one run, with truth.

    .venv/bin/python benchmarks/sfm.py [--repeats 1] [--datasets stage templering]
                                       [--synth 96 [--synth-dir DIR]]

The peer is what a pycolmap user writes first: ``extract_features`` (default options,
one camera per image), ``match_exhaustive``, ``incremental_mapping``, largest model.
Ours is ``setsplat reconstruct sfm`` with its defaults (pair selection, shared camera,
probe before upsampling, tuned mapper), ``--no-undistort`` so both do the same work
(poses and points); undistortion is timed separately. Each run is a fresh process.
Accuracy: rotation and camera-centre errors after a similarity alignment to the truth.
``--synth N`` adds a larger synthetic scan (``setsplat capture synth --count N``, rendered
once into DIR, not timed): where exhaustive matching's n²/2 pairs start to dominate.
Wall time suffers when the machine is shared; CPU time (all threads, children
included) stays comparable, so both are printed, with their ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reconstruct.helpers import STAGE, stage_truth, templering_truth  # noqa: E402

from setsplat.core.camera import Camera, read_cameras  # noqa: E402
from setsplat.reconstruct.align import pose_errors  # noqa: E402
from setsplat.reconstruct.colmap_io import cameras_of, read_model  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"

PEER = textwrap.dedent("""
    import sys, zlib  # zlib before pycolmap (pycolmap 4.2.1 aborts otherwise)
    import pycolmap
    images, out = sys.argv[1], sys.argv[2]
    db = out + "/database.db"
    pycolmap.extract_features(db, images)
    pycolmap.match_exhaustive(db)
    models = pycolmap.incremental_mapping(db, images, out)
    best = max(models.values(), key=lambda r: r.num_reg_images())
    import os
    os.makedirs(out + "/best", exist_ok=True)
    best.write(out + "/best")
""")


def synth_scan(count: int, folder: Path) -> tuple[Path, dict[str, Camera]]:
    if not (folder / "truth.json").is_file():
        subprocess.run([sys.executable, "-m", "setsplat.cli.main", "-q", "capture", "synth",
                        str(folder), "--count", str(count)], check=True)
    truth = json.loads((folder / "truth.json").read_text())
    return folder / "images", {c["name"]: Camera.from_dict(c) for c in truth["cameras"]}


def datasets() -> dict[str, tuple[Path, dict[str, Camera]]]:
    found = {"stage": (STAGE / "images", stage_truth())}
    if (SHARED / "templering").is_dir():
        found["templering"] = (SHARED / "templering" / "images",
                               templering_truth(SHARED / "templering"))
    return found


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of a command and everything it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{command[:4]} failed:\n{done.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def accuracy(cameras: list[Camera], truth: dict[str, Camera]) -> dict[str, float]:
    errors = pose_errors(cameras, [truth[c.name] for c in cameras])
    return {"registered": len(cameras), **errors.summary()}


def run_peer(images: Path, work: Path, truth) -> dict:
    out = work / "peer"
    out.mkdir()
    wall, cpu = timed([sys.executable, "-c", PEER, str(images), str(out)])
    return {"wall": wall, "cpu": cpu, **accuracy(cameras_of(read_model(out / "best")), truth)}


def run_ours(images: Path, work: Path, truth) -> dict:
    out = work / "ours"
    setsplat = [sys.executable, "-m", "setsplat.cli.main", "--json", "reconstruct", "sfm"]
    wall, cpu = timed([*setsplat, str(images), "-o", str(out), "--no-undistort"])
    report = json.loads((out / "sfm_report.json").read_text())
    result = {"wall": wall, "cpu": cpu, **accuracy(read_cameras(out / "cameras.json"), truth),
              "pairs": report["pairs"], "matcher": report["matcher"],
              "upsampled": report["upsampled"], "stages": report["timings"]}
    undistort_wall, undistort_cpu = timed([*setsplat, str(images), "-o", str(work / "u")])
    result["with_undistort"] = {"wall": undistort_wall, "cpu": undistort_cpu}
    return result


def median_run(runner, images, truth, repeats) -> dict:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(runner(images, Path(tmp), truth))
    best = dict(runs[0])
    for key in ("wall", "cpu"):
        best[key] = statistics.median(r[key] for r in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--synth", type=int, default=0, metavar="N")
    parser.add_argument("--synth-dir", type=Path, default=None)
    args = parser.parse_args()
    found = datasets()
    if args.synth:
        name = f"synth{args.synth}"
        found[name] = synth_scan(args.synth, args.synth_dir or Path(tempfile.gettempdir())
                                 / f"setsplat-bench-{name}")
    names = args.datasets or list(found)
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}"
          " (2 cores; shared machine: wall times are noisy)")
    results = {}
    for name in names:
        images, truth = found[name]
        peer = median_run(run_peer, images, truth, args.repeats)
        ours = median_run(run_ours, images, truth, args.repeats)
        results[name] = {"peer": peer, "ours": ours}
        count = sum(1 for p in images.iterdir() if p.name in truth)
        print(f"\n{name}: {count} photos in {images}")
        print(f"  {'':28} {'wall s':>8} {'cpu s':>8} {'reg':>5} {'rot mean°':>10} "
              f"{'rot max°':>9} {'centre max':>11}")
        for label, r in (("pycolmap defaults", peer), ("setsplat defaults", ours)):
            print(f"  {label:28} {r['wall']:8.2f} {r['cpu']:8.2f} {r['registered']:5d} "
                  f"{r['rotation_mean_deg']:10.3f} {r['rotation_max_deg']:9.3f} "
                  f"{100 * r['center_max_rel']:10.2f}%")
        print(f"  speed-up: wall {peer['wall'] / ours['wall']:.2f}x, "
              f"cpu {peer['cpu'] / ours['cpu']:.2f}x  "
              f"(ours: {ours['matcher']}, {ours['pairs']} pairs, "
              f"upsampled {ours['upsampled']}; stages {ours['stages']})")
        u = ours["with_undistort"]
        print(f"  ours with undistortion (full outputs): wall {u['wall']:.2f} s, "
              f"cpu {u['cpu']:.2f} s")
    print("\n" + json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
