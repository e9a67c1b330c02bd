"""Shot rendering: 48 frames of a 100k-splat set at 640x360 on the CPU, one run.

    .venv/bin/python benchmarks/shots.py [--frames 48] [--splats 100000]
                                          [--peer-frames 2] [--no-peer]

A synthetic room (floor, three walls and a few boxes of splats, SH degree 3) is
published into a temporary library and given an orbit shot. Timed, each once:

* ``setsplat shots render``'s library call, end to end: every frame rendered, RGB /
  alpha / 16-bit depth PNGs and camera JSON written, the preview MP4, the depth video,
  the conditioning package and the USD shot stage;
* the bare rasterization of the same cameras with our renderer (``render_scene``, no
  files): what the shot package adds on top of it;
* the peer, gsplat 1.5's own PyTorch rendering path made to run on a CPU
  (``gsplat_cpu_peer.py``, RGB + expected depth, forward only) on the first
  ``--peer-frames`` cameras, its time per frame scaled to the whole shot.

Both run on 2 threads; wall and CPU time (``time.process_time``, both threads) are
printed with the machine's load average, since other work on a shared machine inflates
wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

THREADS = 2
os.environ.setdefault("NUMBA_NUM_THREADS", str(THREADS))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))


def make_room(n: int, seed: int = 0):
    """A 5 x 3 x 5 m room of ``n`` splats in Y-up metres, as a trained scan roughly is:
    surfaces of small flattened splats with a spread of sizes and colors."""
    import numpy as np

    from setsplat.core.scene import GaussianScene

    rng = np.random.default_rng(seed)
    surfaces = [  # (origin, u axis, v axis): floor, back and side walls, three boxes
        ([-2.5, 0, -2.5], [5, 0, 0], [0, 0, 5]), ([-2.5, 0, -2.5], [5, 0, 0], [0, 3, 0]),
        ([-2.5, 0, -2.5], [0, 0, 5], [0, 3, 0]), ([2.5, 0, -2.5], [0, 0, 5], [0, 3, 0]),
        ([-1.0, 0.8, -1.5], [1.2, 0, 0], [0, 0, 0.8]), ([0.8, 0.5, -0.5], [0.6, 0, 0],
                                                        [0, 0, 0.6]),
        ([-0.5, 0, -1.5], [1.0, 0, 0], [0, 0.8, 0])]
    areas = np.array([np.linalg.norm(np.cross(u, v)) for _, u, v in surfaces])
    which = rng.choice(len(surfaces), n, p=areas / areas.sum())
    st = rng.random((n, 2))
    origin, u, v = (np.array([s[k] for s in surfaces], float)[which] for k in range(3))
    means = origin + st[:, :1] * u + st[:, 1:] * v + rng.normal(0, 0.005, (n, 3))
    spacing = np.sqrt(areas.sum() / n)
    log_scales = np.log(spacing * np.exp(rng.normal(0, 0.4, (n, 3))) * [1.0, 1.0, 0.15])
    quats = rng.normal(size=(n, 4))
    sh = np.zeros((n, 16, 3))
    sh[:, 0] = rng.normal(0, 0.6, (n, 3)) + (which % 3)[:, None] * 0.3
    sh[:, 1:] = rng.normal(0, 0.05, (n, 15, 3))
    return GaussianScene(means=means, quats=quats, log_scales=log_scales,
                         opacity_logits=rng.normal(2.0, 1.0, n), sh=sh, frame="yup")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--splats", type=int, default=100_000)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--peer-frames", type=int, default=2)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(THREADS)
    from setsplat.assets import Library, PublishOptions, load, publish
    from setsplat.core.frames import convert_scene
    from setsplat.core.io import ply
    from setsplat.core.progress import set_quiet
    from setsplat.render import render_scene
    from setsplat.render.render_scene import activated, camera_matrices
    from setsplat.shots import RenderOptions, ShotOptions, new_shot, render_shot, shot_cameras
    from setsplat.shots.store import get_shot, open_catalog

    set_quiet(True)
    with tempfile.TemporaryDirectory(prefix="setsplat-bench-shots-") as tmp:
        tmp = Path(tmp)
        library = Library.resolve(tmp / "library")
        ply.write(tmp / "room.ply", convert_scene(make_room(args.splats), "rdf"))
        publish(tmp / "room.ply", PublishOptions(name="Set_Bench", thumbnails=False, mesh=None),
                library)
        new_shot("EP01_SH010", ShotOptions(asset="Set_Bench", path="orbit:degrees=60",
                                           frames=args.frames,
                                           resolution=(args.width, args.height)), library)
        with open_catalog(library) as catalog:
            cameras = shot_cameras(get_shot(catalog, "EP01_SH010")[0])
        scene = load("Set_Bench", library)
        t0 = time.perf_counter()
        render_scene(scene, cameras[:1])  # the first call loads numba's cached kernels
        first_call = time.perf_counter() - t0

        def timed(work):
            wall, cpu = time.perf_counter(), time.process_time()
            result = work()
            return time.perf_counter() - wall, time.process_time() - cpu, result

        ours_wall, ours_cpu, manifest = timed(lambda: render_shot(
            "EP01_SH010", library, RenderOptions(out=tmp / "render")))
        bare_wall, bare_cpu, outputs = timed(lambda: render_scene(scene, cameras))
        alpha = float(sum(o.alpha.mean() for o in outputs) / len(outputs))
        rows = [("setsplat shots render (end to end)", ours_wall, ours_cpu, ""),
                ("setsplat render_scene only (no files)", bare_wall, bare_cpu, "")]
        if not args.no_peer:
            sys.path.insert(0, str(Path(__file__).parent))
            import gsplat_cpu_peer as peer

            params = activated(scene)
            k = min(args.peer_frames, len(cameras))

            def peer_frames():
                for camera in cameras[:k]:
                    view, K = camera_matrices(camera, scene)
                    peer.rasterize(params["means"], params["quats"], params["scales"],
                                   params["opacities"], params["sh"],
                                   torch.tensor(view[None], dtype=torch.float32),
                                   torch.tensor(K[None], dtype=torch.float32), camera.width,
                                   camera.height, 3)

            with torch.no_grad():
                peer_wall, peer_cpu, _ = timed(peer_frames)
            scale = len(cameras) / k
            rows.append(("gsplat PyTorch path (forward)", peer_wall * scale, peer_cpu * scale,
                         f"{k} frames timed, x{scale:g}"))
    load_average = os.getloadavg()[0]
    print(f"{args.frames} frames, {args.splats:,} splats (SH 3), {args.width}x{args.height}, "
          f"{THREADS} threads, mean alpha {alpha:.2f}, first call {first_call:.2f} s, "
          f"load average {load_average:.1f}, backend {manifest['backend']}")
    for name, wall, cpu, note in rows:
        print(f"  {name:40s} {wall:8.2f} s wall  {cpu:8.2f} s CPU  "
              f"{wall / args.frames * 1000:7.0f} ms/frame  {note}")
    print(f"shot package overhead over bare rendering: {ours_wall / bare_wall:.2f}x wall")
    if not args.no_peer:
        print(f"setsplat shots render is {rows[2][1] / ours_wall:.1f}x faster than the gsplat "
              f"PyTorch path renders the frames alone (wall), {rows[2][2] / ours_cpu:.1f}x "
              "(CPU)")


if __name__ == "__main__":
    main()
