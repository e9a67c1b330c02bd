"""Training on CPU: held-out PSNR within a wall-time budget, against gsplat's PyTorch path.

    .venv/bin/python benchmarks/train.py [--only stage|templering] [--peer-steps 20]

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
CASES = {
    "stage": {"photos": ROOT / "sample_scans" / "stage" / "images", "steps": 4000,
              "downscale": 2, "marker_size": 0.2},
    "templering": {"photos": ROOT.parent / "shared" / "data" / "templering" / "images",
                   "steps": 4500, "downscale": 2, "marker_size": None},
}


def run_ours(case: dict, out: Path) -> dict:
    command = [sys.executable, "-m", "setsplat.cli.main", "--json", "run", str(case["photos"]),
               "--out", str(out), "--steps", str(case["steps"]),
               "--resolution", str(case["downscale"])]
    if case["marker_size"]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--peer-steps", type=int, default=10)
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="setsplat-train-bench-") as tmp:
        for name, case in CASES.items():
            if args.only and name != args.only:
                continue
            if not case["photos"].is_dir():
                print(f"{name}: {case['photos']} is missing, skipped")
                continue
            out = Path(tmp) / name
            row = run_ours(case, out)
            trained = out / "train" / "scene.ply"
            for when, scene in (("start", None), ("trained", trained)):
                row[f"ours_{when}"] = time_steps(out / "sfm", 20, case["downscale"], False,
                                                 scene)
                row[f"peer_{when}"] = time_steps(out / "sfm", args.peer_steps,
                                                 case["downscale"], True, scene)
            rows[name] = row
            shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(rows, indent=1))
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


if __name__ == "__main__":
    main()
