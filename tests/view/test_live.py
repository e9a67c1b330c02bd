"""`reconstruct train --view`: the browser sees the splats and the step count while
training runs, and closing it does not stop training; `run --view` serves it too.
Neither records the flag: it changes nothing training computes."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from .browser import chromium, open_page, wait_drawn
from .scan import free_port
from .test_viewer import Process

pytestmark = pytest.mark.slow

STEPS = 60


def test_training_shows_live_and_outlives_the_browser(truth_capture, tmp_path):
    out = tmp_path / "live"
    process = Process("reconstruct", "train", str(truth_capture), "--out", str(out),
                      "--steps", str(STEPS), "--view", "--view-port", str(free_port()))
    try:
        url = process.wait_for(r"viewer: (http://\S+)").group(1)
        with chromium() as browser:
            page = open_page(browser, url, 724, 300)
            page.get_by_text("Step", exact=False).first.wait_for(timeout=120_000)
            wait_drawn(page)  # the splats pushed so far are in view
            page.close()  # the browser goes away; training carries on
        assert process.proc.wait(timeout=600) == 0
    finally:
        process.stop()
    assert (out / "scene.ply").is_file()
    assert json.loads((out / "metrics.json").read_text())["steps"] == STEPS
    assert not [key for key in json.loads((out / "config.json").read_text()) if "view" in key]


def test_run_serves_the_live_view_while_it_trains(tmp_path):
    photos = Path(__file__).resolve().parents[2] / "sample_scans" / "tiny" / "images"
    process = Process("run", str(photos), "--out", str(tmp_path / "run"), "--steps", "10",
                      "--eval-every", "4", "--sh-degree", "0", "--view", "--view-port",
                      str(free_port()))
    try:
        url = process.wait_for(r"viewer: (http://\S+)").group(1)
        with urllib.request.urlopen(url, timeout=30) as response:  # viser's client
            assert response.status == 200 and b"<html" in response.read(2000).lower()
        assert process.proc.wait(timeout=900) == 0
    finally:
        process.stop()
    assert (tmp_path / "run" / "train" / "scene.ply").is_file()
    config = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert not [key for key in (*config, *config["train"]) if "view" in key]
