"""Interrupted commands (Ctrl-C, SIGTERM, kill -9) leave no partial outputs, and no
staging folders that the next run does not clean; outputs get the same permissions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from setsplat.core.camera import Camera, write_cameras
from setsplat.core.fsutil import default_mode
from setsplat.core.io import ply
from tests.conftest import ctrl_c_reaches_it, random_scene

SRC = Path(__file__).resolve().parents[1] / "src"


def _start(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen([sys.executable, "-m", "setsplat.cli.main", "--quiet", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            preexec_fn=ctrl_c_reaches_it)


def _wait_for(condition, child: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _staged(parent: Path, name: str) -> list[Path]:
    return sorted(parent.glob(f".{name}.*"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(24):
        pixels = rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"IMG_{i:04d}.png")
    return folder


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_ingest_leaves_nothing(photos, tmp_path, sig):
    out = tmp_path / "cap"
    child = _start("capture", "ingest", photos, "--out", out, "--jobs", "1")
    _wait_for(lambda: any(p.glob("images/*") for p in _staged(tmp_path, "cap")), child)
    child.send_signal(sig)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert err.strip() == "error: interrupted — nothing half-written was kept; run it again"
    assert not out.exists() and _staged(tmp_path, "cap") == []


def test_the_next_run_cleans_what_kill_9_left(photos, tmp_path, cli):
    out = tmp_path / "cap"
    child = _start("capture", "ingest", photos, "--out", out, "--jobs", "1", "--no-check")
    _wait_for(lambda: any(p.glob("images/*") for p in _staged(tmp_path, "cap")), child)
    child.kill()
    child.wait()
    assert len(_staged(tmp_path, "cap")) == 1  # what a dead process left
    assert cli("-q", "capture", "ingest", photos, "--out", out, "--no-check").code == 0
    assert _staged(tmp_path, "cap") == []
    # its QC never ran: ingesting the same source again redoes it, without --overwrite
    assert cli("-q", "capture", "ingest", photos, "--out", out).code == 0
    assert (out / "qc.json").is_file()
    # capture folders get the permissions exports get (not mkdtemp's 0700)
    assert out.stat().st_mode & 0o777 == default_mode(folder=True)
    scene = tmp_path / "s.ply"
    ply.write(scene, random_scene(30))
    assert cli("-q", "export", "spz", scene, "--out", tmp_path / "exp").code == 0
    assert (tmp_path / "exp").stat().st_mode & 0o777 == out.stat().st_mode & 0o777


def test_an_interrupted_render_writes_no_views(tmp_path):
    ply.write(tmp_path / "scene.ply", random_scene(200, spread=1.0))
    cameras = [Camera.look_at([3 * np.cos(a), 0.5, 3 * np.sin(a)], [0, 0, 0], width=96,
                              height=64, name=f"v{i:03d}") for i, a in
               enumerate(np.linspace(0, 6, 400))]
    write_cameras(tmp_path / "cameras.json", cameras)
    out = tmp_path / "views"
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    child = _start("render", tmp_path / "scene.ply", "--cameras", tmp_path / "cameras.json",
                   "--out", out)
    _wait_for(lambda: any(p.glob("*.png") for p in _staged(tmp_path, "views")), child)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    assert _staged(tmp_path, "views") == []
