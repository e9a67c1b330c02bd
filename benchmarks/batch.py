"""The farm: `setsplat batch` on Ray against a shell loop of `setsplat run`, its scaling
from one Ray worker to two, and publishing from 4 processes into PostgreSQL and SQLite.

    .venv/bin/python benchmarks/batch.py [--captures 4] [--steps 300] [--publishes 10]
                                         [--only scaling overhead publish] [--json FILE]

Captures are copies of ``sample_scans/tiny`` (10 photos, 200x150), trained ``--steps``
steps with every 4th photo held out, SH degree 1.

- **scaling**: a Ray cluster on this machine (a head with no cores, then worker nodes
  of one core each, ``tests/engines.py``); every task asks for one core and holds its
  thread pools to one thread. The same batch of fresh captures runs with one worker,
  then again (fresh folders) after a second worker joins. Throughput = captures / wall
  seconds of ``farm.batch`` (joining the cluster included), each timed batch after an
  untimed one of a capture per worker. Also compared: the photos each capture
  registered and its held-out PSNR.
- **overhead**: ``setsplat -q batch`` on its local Ray (all cores, a core a task)
  against the same captures through ``setsplat -q run`` one after another in a shell
  loop (each run with all cores), both fresh, both through the CLI, wall time.
- **publish**: 4 processes each publish ``--publishes`` versions of a 300-splat scene
  (no thumbnails, no proxy mesh: the catalog's share is what differs) into one library
  whose catalog is PostgreSQL 15 (fsync on) or SQLite (WAL, synchronous=FULL) on the
  local disk. The clock starts once all 4 have imported setsplat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import random_scene  # noqa: E402
from tests.engines import (  # noqa: E402
    PostgresServer,
    RayCluster,
    environment,
    publisher,
    ray_environment,
)

from setsplat.core.io import ply  # noqa: E402
from setsplat.core.progress import set_quiet  # noqa: E402
from setsplat.farm import BatchOptions, batch, captures  # noqa: E402
from setsplat.pipeline import RunConfig  # noqa: E402
from setsplat.reconstruct.train import TrainConfig  # noqa: E402

TINY = ROOT / "sample_scans" / "tiny" / "images"
CLI = [sys.executable, "-m", "setsplat.cli.main", "-q"]


def make_captures(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"tiny_{index}"
        shutil.copytree(TINY, path)
        paths.append(path)
    return paths


def per_capture(summary: dict) -> list[tuple[int, float]]:
    return [(c["stages"]["sfm"]["registered"], c["stages"]["train"]["psnr"])
            for c in summary["captures"]]


def scaling(work: Path, count: int, config: RunConfig) -> dict:
    env = ray_environment()
    cluster = RayCluster(env)
    results = {}
    with environment(env):
        try:
            cluster.start(workers=1, cpus=1)
            for workers in (1, 2):
                if workers == 2:
                    cluster.add_worker(1)
                warm_up(work / f"warm{workers}", workers, cluster.address)
                sources = make_captures(work / f"scaling{workers}", count)
                summary = batch(captures(sources, work / f"scaling{workers}-runs"), config,
                                BatchOptions(address=cluster.address, cpus_per_task=1))
                assert summary["failed"] == 0, summary
                results[workers] = {"seconds": summary["seconds"],
                                    "per_capture": per_capture(summary)}
                print(f"scaling, {workers} worker(s): {summary['seconds']:.1f} s",
                      flush=True)
        finally:
            cluster.stop()
    one, two = results[1], results[2]
    psnr_gap = max(abs(a[1] - b[1]) for a, b in zip(one["per_capture"], two["per_capture"]))
    return {**{f"{k}_workers": v for k, v in results.items()},
            "throughput_ratio": one["seconds"] / two["seconds"],
            "same_registered": [a[0] for a in one["per_capture"]]
            == [b[0] for b in two["per_capture"]],
            "max_psnr_gap_db": psnr_gap}


def warm_up(folder: Path, workers: int, address: str) -> None:
    """A capture a worker, a few steps, untimed: the nodes' first tasks load torch, numba's
    cached kernels and COLMAP from disk, which the timed batches then find in memory."""
    config = RunConfig(train=TrainConfig(steps=5, eval_every=4, sh_degree=1))
    summary = batch(captures(make_captures(folder, workers), folder / "runs"), config,
                    BatchOptions(address=address, cpus_per_task=1))
    assert summary["failed"] == 0, summary


def overhead(work: Path, count: int, flags: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "RAY_USAGE_STATS_ENABLED": "0"}
    sources = make_captures(work / "loop", count)
    began = time.perf_counter()
    for source in sources:
        subprocess.run([*CLI, "run", str(source), "--out", str(work / "loop-runs" / source.name),
                        *flags], check=True, env=env, stdout=subprocess.DEVNULL)
    loop = time.perf_counter() - began
    print(f"overhead, shell loop: {loop:.1f} s", flush=True)
    sources = make_captures(work / "batch", count)
    began = time.perf_counter()
    subprocess.run([*CLI, "batch", *map(str, sources), "--out", str(work / "batch-runs"),
                    *flags], check=True, env=env, stdout=subprocess.DEVNULL)
    farm = time.perf_counter() - began
    print(f"overhead, batch on local Ray: {farm:.1f} s", flush=True)
    return {"loop_seconds": loop, "batch_seconds": farm, "ratio": farm / loop}


def publish_rate(work: Path, publishes: int) -> dict:
    scene = work / "scene.ply"
    ply.write(scene, random_scene(300, degree=1, seed=3))
    server = PostgresServer(fsync=True).start()
    try:
        urls = {"postgresql": server.create_database("bench"), "sqlite": None}
        rates = {}
        for backend, url in urls.items():
            root = work / f"library-{backend}"
            processes = [publisher(root, url, scene, publishes, wait=True) for _ in range(4)]
            for process in processes:
                assert process.stdout.readline().strip() == "ready", process.stderr.read()
            began = time.perf_counter()
            for process in processes:
                process.stdin.write("go\n")
                process.stdin.flush()
            for process in processes:
                _, err = process.communicate(timeout=1800)
                assert process.returncode == 0, err[-2000:]
            seconds = time.perf_counter() - began
            rates[backend] = {"seconds": seconds, "per_second": 4 * publishes / seconds}
            print(f"publish into {backend}: {4 * publishes} versions in {seconds:.1f} s",
                  flush=True)
    finally:
        server.stop()
    rates["ratio"] = rates["postgresql"]["per_second"] / rates["sqlite"]["per_second"]
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--publishes", type=int, default=10)
    parser.add_argument("--only", nargs="*", default=["scaling", "overhead", "publish"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    set_quiet(True)
    flags = ["--steps", str(args.steps), "--eval-every", "4", "--sh-degree", "1"]
    config = RunConfig(train=TrainConfig(steps=args.steps, eval_every=4, sh_degree=1))
    report = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="setsplat-batch-") as folder:
        work = Path(folder)
        if "scaling" in args.only:
            report["scaling"] = scaling(work, args.captures, config)
        if "overhead" in args.only:
            report["overhead"] = overhead(work, args.captures, flags)
        if "publish" in args.only:
            report["publish"] = publish_rate(work, args.publishes)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    summarize(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def summarize(report: dict) -> None:
    if "scaling" in report:
        s = report["scaling"]
        psnrs = [p for w in ("1_workers", "2_workers") for _, p in s[w]["per_capture"]]
        print(f"scaling 1 -> 2 workers: {s['throughput_ratio']:.2f}x throughput (goal >= 1.7), "
              f"same photos registered: {s['same_registered']}, held-out PSNR "
              f"{statistics.mean(psnrs):.2f} dB, largest gap {s['max_psnr_gap_db']:.3f} dB "
              "(goal <= 0.5)")
    if "overhead" in report:
        o = report["overhead"]
        print(f"batch / shell loop: {o['ratio']:.2f}x wall (goal <= 1.1)")
    if "publish" in report:
        p = report["publish"]
        print(f"publish, 4 processes: PostgreSQL {p['postgresql']['per_second']:.2f}/s, "
              f"SQLite {p['sqlite']['per_second']:.2f}/s ({p['ratio']:.2f}x)")
    print(f"load average before {report['load_before']}, after {report['load_after']}")


if __name__ == "__main__":
    main()
