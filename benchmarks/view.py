"""Viewer: seconds to the first drawn frame in headless Chromium, and the browser's memory.

    .venv/bin/python benchmarks/view.py [--scene demo-out/train/scene.ply]
                                        [--big 1000000 ...] [--max-splats N] [--json]

The trained sample scene (``make demo``'s, about 300k splats) and bigger ones made from it
(``--big`` splats each: splats copied with their centres jittered by their own size,
scales shrunk to keep the volume). For each scene, once:

* ours: ``setsplat view SCENE`` started as a process (with its default browser budget
  unless ``--max-splats``), a fresh headless Chromium (Debian's, SwiftShader WebGL: the
  CPU draws) opening the printed URL; timed from the process start to the first
  screenshot of the 3D view that shows splats;
* the peer: ``@playcanvas/splat-transform`` (npm, pinned in the Makefile, in ``.tools``)
  writing its HTML viewer (PlayCanvas's SuperSplat viewer with the scene in the page;
  SH dropped with ``-H 0`` as viser draws the DC color only, compression on the CPU
  with ``-g cpu -i 1``), served by Python's http.server, opened in the same way; timed
  from the conversion's start (and from the page's) to the first drawn screenshot.

"Drawn" is a screenshot of the canvas alone whose pixels vary (standard deviation over
the view above 8 of 255); screenshots are taken back to back, so a figure is late by up
to one screenshot (about 0.1-1 s here). Memory is the resident set of all the browser's
processes (it double-counts pages shared between them) and the page's JS heap, read once
the frame is drawn. The machine is shared with other engineers' jobs: wall times are
noisy, and the load average is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPLAT_TRANSFORM = ROOT / ".tools" / "node_modules" / ".bin" / "splat-transform"
VIEW_SIZE = (800, 600)  # the browser window
DRAWN_STD = 8.0


def bigger_scene(scene, count: int, seed: int = 0):
    """``count`` splats from ``scene``: copies with centres jittered by their own size and
    scales shrunk so the copies fill about the same volume."""
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(scene), count)
    big = scene.subset(picked)
    shrink = np.log((len(scene) / count) ** (1 / 3))
    jitter = rng.normal(size=(count, 3)) * big.scales
    return big.replace(means=(big.means + jitter).astype(np.float32),
                       log_scales=(big.log_scales + shrink).astype(np.float32))


def drawn(image: np.ndarray) -> bool:
    return float(image.std(axis=(0, 1)).mean()) > DRAWN_STD


def first_frame(context, url: str, started: float) -> dict:
    """Open ``url``; seconds from ``started`` until a drawn screenshot, and memory then."""
    from tests.view.browser import screenshot

    page = context.new_page()
    page.set_default_timeout(900_000)  # software WebGL on a busy machine: slow frames
    page.set_viewport_size({"width": VIEW_SIZE[0], "height": VIEW_SIZE[1]})
    opened = time.monotonic()
    page.goto(url)
    page.wait_for_selector("canvas[data-engine]", timeout=600_000)
    while not drawn(screenshot(page, timeout_ms=900_000)):
        if time.monotonic() - opened > 900:
            raise TimeoutError(f"{url}: nothing drawn in 15 minutes")
    now = time.monotonic()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    result = {"first_frame_s": now - started, "page_to_frame_s": now - opened,
              "browser_rss_mb": browser_rss_mb(context.profile_dir),
              "js_heap_mb": metrics.get("JSHeapUsedSize", 0) / 2**20}
    page.close()
    return result


def browser_rss_mb(profile: str) -> float:
    """Resident memory of every process of the browser that uses ``profile``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if profile not in (entry / "cmdline").read_bytes().decode(errors="replace"):
                continue
            status = (entry / "status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total / 1024


def ours(scene_file: Path, max_splats: int | None, context) -> dict:
    port = free_port()
    command = [sys.executable, "-m", "setsplat.cli.main", "view", str(scene_file), "--port",
               str(port)] + (["--max-splats", str(max_splats)] if max_splats else [])
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://\S+", line).group(0)
        served = time.monotonic() - started
        result = first_frame(context, url, started)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {**result, "served_s": served}


def peer(scene_file: Path, folder: Path, context) -> dict:
    page = folder / f"{scene_file.stem}.html"
    started = time.monotonic()
    subprocess.run([str(SPLAT_TRANSFORM), "-q", "-w", "-g", "cpu", "-i", "1", str(scene_file),
                    "-H", "0", str(page)], check=True, timeout=3600)
    converted = time.monotonic() - started
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = first_frame(context, f"http://127.0.0.1:{server.server_address[1]}/"
                                      f"{page.name}", started)
    finally:
        server.shutdown()
    return {**result, "converted_s": converted}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", type=Path, default=ROOT / "demo-out" / "train" / "scene.ply")
    parser.add_argument("--big", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--max-splats", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.scene.is_file():
        sys.exit(f"error: {args.scene}: no scene — run `make demo` or give --scene")
    if not SPLAT_TRANSFORM.is_file():
        sys.exit(f"error: {SPLAT_TRANSFORM}: missing — run `make install`")
    from tests.view.browser import chromium

    from setsplat.core.io import read_scene, write_scene

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        scene = read_scene(args.scene)
        scenes = [(args.scene.name, args.scene, len(scene))]
        for count in args.big:
            path = folder / f"big_{count}.ply"
            write_scene(path, bigger_scene(scene, count))
            scenes.append((path.name, path, count))
        for label, path, count in scenes:
            with chromium() as context:
                mine = ours(path, args.max_splats, context)
            with chromium() as context:
                theirs = peer(path, folder, context)
            rows.append({"scene": label, "splats": count, "ours": mine, "peer": theirs,
                         "ours_over_peer": mine["first_frame_s"] / theirs["first_frame_s"],
                         "ours_over_first_scene": mine["first_frame_s"]
                         / (rows[0]["ours"] if rows else mine)["first_frame_s"],
                         "load": os.getloadavg()[0]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        o, p = row["ours"], row["peer"]
        print(f"{row['scene']} ({row['splats']:,} splats, load {row['load']:.1f}): "
              f"ours {o['first_frame_s']:.1f} s (served {o['served_s']:.1f} s, page "
              f"{o['page_to_frame_s']:.1f} s; browser {o['browser_rss_mb']:.0f} MB, JS heap "
              f"{o['js_heap_mb']:.0f} MB); splat-transform {p['first_frame_s']:.1f} s "
              f"(convert {p['converted_s']:.1f} s, page {p['page_to_frame_s']:.1f} s; "
              f"browser {p['browser_rss_mb']:.0f} MB, JS heap {p['js_heap_mb']:.0f} MB); "
              f"ours/peer {row['ours_over_peer']:.2f}; ours / first scene's "
              f"{row['ours_over_first_scene']:.2f}")


if __name__ == "__main__":
    main()
