"""Training on CPU: held-out PSNR within a wall-time budget, against gsplat's PyTorch path;
real captures through QC and SfM; exposure compensation and masks on synthetic shoots.

    .venv/bin/python benchmarks/train.py [--only CASE ...] [--peer-steps 20] [--steps N]

Cases: stage, templering (with the peer), the other real captures (movi_house,
entry_p10, fountain_p11, herzjesu_p8), and the shoot cases (exposure, crew).

For each capture — the bundled `sample_scans/stage` (640x480, trained at 320x240) and the
real photos of `../shared/data/templering` (trained at 320x240) — it runs our SfM, then
`reconstruct train` with the step count given below, and prints the held-out PSNR,
SSIM, wall time and peak RSS. The goals: stage ≥ 28 dB within 10 minutes; templering
reported after 10 minutes (aim ≥ 24 dB); RSS within 4 GB.

The peer is the same training loop (same data, same strategy, same losses) with gsplat's
own PyTorch rasterization path as the renderer (the only way gsplat trains without
CUDA; see gsplat_cpu_peer.py): both are timed over the same steps twice, from the SfM
points (the first steps of a run) and from our trained scene after densification (most
of a run), and the ratio of seconds per step is printed.

Real captures: the whole run with --steps (default 1500), Strecha's photos shrunk to 768
px at ingest. The goal: no photo QC culls is one SfM can register (when QC culls any,
SfM runs again on every photo to see).

Shoot cases: the stage scan as bundled (``capture synth``: 40 photos, 640x480, ArUco
markers: metres), SfM at that size, each trained with --steps (default 2000) and
--resolution (default 2):
- exposure: the stage scan with every photo's exposure shifted by up to ±1 EV and its
  red and blue by up to ±0.2 stops. Goal: held-out PSNR with compensation (each held-out
  view's transform fitted on it alone, splats frozen) ≥ 2 dB above training without
  compensation, and within 1 dB of the same scan without shifts.
- crew: the stage scan with a crew member standing somewhere else in 30% of the photos,
  trained with their masks. Goals: held-out PSNR (masked pixels left out) within 0.5 dB
  of the scan without the figure; no splat (opacity > 0.1) left inside any place the
  figure stood (its box less 5 cm, in the truth frame after aligning SfM's cameras).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CASES = {
    "stage": {"photos": ROOT / "sample_scans" / "stage" / "images", "steps": 4000,
              "downscale": 2, "marker_size": 0.2},
    "templering": {"photos": SHARED / "templering" / "images",
                   "steps": 4500, "downscale": 2, "marker_size": None},
}


def run_ours(case: dict, out: Path) -> dict:
    command = [sys.executable, "-m", "setsplat.cli.main", "--json", "run", str(case["photos"]),
               "--out", str(out), "--steps", str(case["steps"]),
               "--resolution", str(case["downscale"]), *case.get("args", [])]
    if case.get("marker_size"):
        command += ["--marker-size", str(case["marker_size"])]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        # this run's own peak RSS: RUSAGE_CHILDREN would give the largest of all runs so far
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        if child.returncode:
            stderr.seek(0)
            raise SystemExit(f"setsplat run failed:\n{stderr.read()[-2000:]}")
    wall = time.perf_counter() - started
    metrics = json.loads((out / "train" / "metrics.json").read_text())
    return {"wall_total_s": wall, "train_s": metrics["wall_seconds"], "psnr": metrics["psnr"],
            "ssim": metrics["ssim"], "splats": metrics["splats"],
            "psnr_compensated": metrics.get("psnr_compensated"),
            "compensation": metrics["exposure_compensation"]["reason"],
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "steps": metrics["steps"], "image_size": metrics["image_size"]}


PEER = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
import numpy as np, torch
import gsplat_cpu_peer
from setsplat.core.camera import read_cameras
from setsplat.core.io import ply
from setsplat.core.progress import set_quiet
from setsplat.reconstruct.train import TrainConfig
from setsplat.reconstruct.train.data import load_views
from setsplat.reconstruct.train.init import splats_from_points
from setsplat.reconstruct.train.trainer import Trainer
set_quiet(True)
sfm, steps, downscale, peer = Path({sfm!r}), {steps}, {downscale}, {peer}

class PeerTrainer(Trainer):
    def render(self, viewmat, k, width, height, sh_degree, background=None):
        p = self.params
        colors, alphas, info = gsplat_cpu_peer.rasterize(
            p["means"], p["quats"], torch.exp(p["scales"]), torch.sigmoid(p["opacities"]),
            torch.cat([p["sh0"], p["shN"]], 1), viewmat, k, width, height, sh_degree)
        class Out: pass
        out = Out(); out.rgb = colors[..., :3]; out.info = info
        return out

config = TrainConfig(steps=3000, downscale=downscale)
views = load_views(read_cameras(sfm / "cameras.json"), sfm / "images", downscale, 8)
if {scene!r}:
    start = ply.read({scene!r})
else:
    points, colors = ply.read_points(sfm / "points.ply")
    start = splats_from_points(points, colors, 3, 0.1, np.random.default_rng(0))
trainer = (PeerTrainer if peer else Trainer)(config, views, start)
if {scene!r}:  # a trained scene: time the steps after densification, at SH degree 3
    trainer.state.step = config.schedule["refine_stop"] + 1
trainer.step()  # warm-up (compilation, caches)
began = time.perf_counter()
for _ in range(steps):
    trainer.step()
print(json.dumps({{"s_per_step": (time.perf_counter() - began) / steps}}))
"""


def time_steps(sfm: Path, steps: int, downscale: int, peer: bool,
               scene: Path | None = None) -> float:
    """Seconds per training step from the SfM points, or from ``scene`` (a trained one)."""
    code = PEER.format(bench=str(Path(__file__).parent), sfm=str(sfm), steps=steps,
                       downscale=downscale, peer=peer, scene=str(scene or ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    if result.returncode:
        raise SystemExit(f"step timing failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.splitlines()[-1])["s_per_step"]


REAL = {  # the other real captures: QC, SfM and a short training each
    "movi_house": (SHARED / "movi_house", []),
    **{name: (SHARED / "strecha" / name / "images", ["--max-size", "768"])
       for name in ("entry_p10", "fountain_p11", "herzjesu_p8")},
}
SHOOT = {"clean": [], "exposure": ["--exposure-ev", "1", "--white-balance", "0.2"],
         "crew": ["--crew", "0.3"]}


def setsplat(*args: object) -> str:
    done = subprocess.run([sys.executable, "-m", "setsplat.cli.main", "--quiet", *map(str, args)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"setsplat {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def qc_and_sfm(run: Path) -> dict:
    """What QC culled, what SfM placed, and which culled photos SfM could have placed."""
    capture = json.loads((run / "capture" / "capture.json").read_text())
    report = json.loads((run / "sfm" / "sfm_report.json").read_text())
    culled = [Path(im["name"]).name for im in capture["images"] if not im["use"]]
    placeable: list[str] = []
    if culled:  # SfM on every photo: would it have placed the culled ones?
        setsplat("capture", "check", run / "capture", "--keep-all")
        setsplat("reconstruct", "sfm", run / "capture", "-o", run / "sfm_all")
        placed = {c["name"] for c in json.loads((run / "sfm_all" / "cameras.json")
                                                .read_text())["cameras"]}
        placeable = [name for name in culled if name in placed]
    return {"photos": len(capture["images"]), "culled": culled, "culled_placeable": placeable,
            "registered": report["registered"], "exposure_spread": report.get(
                "photometric", {}).get("spread_stops"),
            "reshoot": [r["where"] for r in report.get("coverage", {}).get("reshoot", [])]}


def figure_splats(run: Path, truth: dict) -> int:
    """Splats (opacity > 0.1) whose centres lie where the crew member stood in any photo:
    the trained scene taken into the truth frame by aligning SfM's cameras to the truth's."""
    import numpy as np

    from setsplat.core.camera import Camera, read_cameras
    from setsplat.core.io import ply
    from setsplat.reconstruct.align import align_cameras

    estimated = read_cameras(run / "sfm" / "cameras.json")
    reference = {c["name"]: Camera.from_dict(c) for c in truth["cameras"]}
    to_truth = align_cameras(estimated, [reference[c.name] for c in estimated])
    scene = ply.read(run / "train" / "scene.ply")
    means = to_truth.apply(scene.means)[1 / (1 + np.exp(-scene.opacity_logits)) > 0.1]
    inside = np.zeros(len(means), bool)
    for place in truth["shoot"]["crew"].values():
        yaw = np.radians(place["yaw_deg"])
        d = means - np.array(place["center"])
        local = np.stack([np.cos(yaw) * d[:, 0] - np.sin(yaw) * d[:, 2], d[:, 1],
                          np.sin(yaw) * d[:, 0] + np.cos(yaw) * d[:, 2]], 1)
        inside |= np.all(np.abs(local) < np.array(place["half"]) - 0.05, axis=1)
    return int(inside.sum())


def shoot_cases(tmp: Path, steps: int, downscale: int, wanted: set[str]) -> dict:
    rows: dict = {}
    runs: dict[str, Path] = {}
    for scan, options in SHOOT.items():
        if scan != "clean" and scan not in wanted:
            continue
        setsplat("capture", "synth", tmp / scan, "--count", 40, *options)
        extra = ["--masks", tmp / scan / "masks"] if scan == "crew" else []
        runs[scan] = tmp / f"run_{scan}"
        rows[scan] = run_ours({"photos": tmp / scan / "images", "steps": steps,
                               "downscale": downscale, "marker_size": 0.2,
                               "args": list(map(str, extra))}, runs[scan])
    if "exposure" in rows:
        off = tmp / "train_exposure_off"
        began = time.perf_counter()
        setsplat("reconstruct", "train", runs["exposure"], "--out", off, "--steps", steps,
                 "--resolution", downscale, "--exposure-compensation", "off")
        metrics = json.loads((off / "metrics.json").read_text())
        rows["exposure_off"] = {"psnr": metrics["psnr"], "ssim": metrics["ssim"],
                                "splats": metrics["splats"],
                                "train_s": time.perf_counter() - began}
    if "crew" in rows:
        truth = json.loads((tmp / "crew" / "truth.json").read_text())
        rows["crew"]["figure_splats"] = figure_splats(runs["crew"], truth)
        rows["clean"]["figure_splats"] = figure_splats(runs["clean"], truth)
        rows["crew"]["photos_with_crew"] = len(truth["shoot"]["crew"])
    return rows


def print_shoot(rows: dict) -> None:
    clean = rows["clean"]
    print(f"\nclean stage scan: held-out PSNR {clean['psnr']:.2f} dB ({clean['compensation']})")
    if "exposure" in rows:
        on, off = rows["exposure"], rows["exposure_off"]
        gain = on["psnr_compensated"] - off["psnr"]
        print(f"exposure ±1 EV, WB ±0.2: compensated {on['psnr_compensated']:.2f} dB (plain "
              f"{on['psnr']:.2f}; {on['compensation']}), without compensation {off['psnr']:.2f}"
              f" dB: +{gain:.2f} dB (goal ≥ 2); against clean "
              f"{on['psnr_compensated'] - clean['psnr']:+.2f} dB (goal within 1)")
    if "crew" in rows:
        crew = rows["crew"]
        print(f"crew in {crew['photos_with_crew']} photos, masked: {crew['psnr']:.2f} dB, "
              f"{crew['psnr'] - clean['psnr']:+.2f} dB against clean (goal within 0.5); "
              f"splats where the figure stood: {crew['figure_splats']} (clean scan "
              f"{clean['figure_splats']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+",
                        choices=sorted([*CASES, *REAL, "exposure", "crew"]))
    parser.add_argument("--peer-steps", type=int, default=10)
    parser.add_argument("--steps", type=int,
                        help="steps of every case (default: 4000 stage, 4500 templering, "
                             "1500 the other real captures, 2000 the shoot cases)")
    parser.add_argument("--resolution", type=int,
                        help="train every case on photos shrunk by this factor (default: 2 "
                             "for stage, templering and the shoots, 1 the rest)")
    parser.add_argument("--work", type=Path, help="keep the runs in this folder")
    args = parser.parse_args()
    wanted = set(args.only or [*CASES, *REAL, "exposure", "crew"])
    rows, real, shoot = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="setsplat-train-bench-") as scratch:
        tmp = args.work or scratch
        keep = args.work is not None
        for name, case in CASES.items():
            if name not in wanted:
                continue
            if not case["photos"].is_dir():
                print(f"{name}: {case['photos']} is missing, skipped")
                continue
            out = Path(tmp) / name
            row = run_ours({**case, "steps": args.steps or case["steps"],
                            "downscale": args.resolution or case["downscale"]}, out)
            row["qc_sfm"] = qc_and_sfm(out)
            trained = out / "train" / "scene.ply"
            for when, scene in (("start", None), ("trained", trained)):
                row[f"ours_{when}"] = time_steps(out / "sfm", 20, case["downscale"], False,
                                                 scene)
                row[f"peer_{when}"] = time_steps(out / "sfm", args.peer_steps,
                                                 case["downscale"], True, scene)
            rows[name] = row
            if not keep:
                shutil.rmtree(out, ignore_errors=True)
        for name, (photos, extra) in REAL.items():
            if name in wanted and photos.is_dir():
                out = Path(tmp) / name
                real[name] = run_ours({"photos": photos, "steps": args.steps or 1500,
                                       "downscale": args.resolution or 1, "args": extra}, out)
                real[name]["qc_sfm"] = qc_and_sfm(out)
                if not keep:
                    shutil.rmtree(out, ignore_errors=True)
        if wanted & {"exposure", "crew"}:
            shoot = shoot_cases(Path(tmp), args.steps or 2000, args.resolution or 2, wanted)
    print(json.dumps({"peer": rows, "real": real, "shoot": shoot}, indent=1))
    for name, r in rows.items():
        print(f"\n{name}: {r['steps']} steps at {r['image_size'][0]}x{r['image_size'][1]}: "
              f"held-out PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.3f}, {r['splats']:,} splats")
        print(f"  training {r['train_s']:.0f} s (whole run {r['wall_total_s']:.0f} s), peak RSS "
              f"{r['peak_rss_mb']:.0f} MB")
        for when, label in (("start", "from the SfM points"),
                            ("trained", f"at the trained {r['splats']:,} splats")):
            ours, peer = r[f"ours_{when}"], r[f"peer_{when}"]
            print(f"  s/step {label}: ours {ours:.3f}, gsplat PyTorch path {peer:.3f}: "
                  f"{peer / ours:.1f}x")
    for name, r in {**rows, **real}.items():
        q = r["qc_sfm"]
        print(f"{name}: QC culled {len(q['culled'])} of {q['photos']} ({q['culled_placeable']} "
              f"SfM could place), SfM placed {q['registered']}; held-out PSNR {r['psnr']:.2f}"
              f" dB" + (f", {r['psnr_compensated']:.2f} dB compensated" if
                         r["psnr_compensated"] is not None else "")
              + f" in {r['train_s']:.0f} s; reshoot: {q['reshoot'] or 'none'}")
    if shoot:
        print_shoot(shoot)


if __name__ == "__main__":
    main()
