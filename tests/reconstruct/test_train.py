"""Training end to end on a capture whose truth we know."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from setsplat.core.io import ply
from setsplat.reconstruct.train import TrainConfig, train_capture


def _quiet_config(**changes) -> TrainConfig:
    return TrainConfig(**{"eval_every": 4, "seed": 0, **changes})


def test_training_learns_the_scene(known_capture, tmp_path, cli):
    out = tmp_path / "train"
    result = cli("--json", "reconstruct", "train", known_capture, "--out", out, "--steps", "150",
                 "--eval-every", "4")
    assert result.code == 0, result.err
    metrics = json.loads(result.out)
    assert metrics["held_out_views"] == 3 and metrics["train_views"] == 9
    assert metrics["psnr"] >= 22.0, metrics["psnr"]
    assert metrics["ssim"] >= 0.7
    written = json.loads((out / "metrics.json").read_text())
    assert written["psnr"] == pytest.approx(metrics["psnr"])
    scene = ply.read(out / "scene.ply")
    assert len(scene) == metrics["splats"] and scene.sh_degree == 3
    assert TrainConfig.load(out / "config.json").steps == 150
    for name in ("loss.png", "eval/view_000.png", "checkpoints/latest.safetensors"):
        assert (out / name).is_file(), name


def test_training_is_deterministic_and_resumes_exactly(known_capture, tmp_path):
    straight = tmp_path / "straight"
    train_capture(known_capture, _quiet_config(steps=30), straight)
    again = tmp_path / "again"
    train_capture(known_capture, _quiet_config(steps=30), again)
    assert (straight / "scene.ply").read_bytes() == (again / "scene.ply").read_bytes()

    # kill -9 a run once it has checkpointed, resume it: the same scene, byte for byte
    resumed = tmp_path / "resumed"
    command = [sys.executable, "-m", "setsplat.cli.main", "--quiet", "reconstruct", "train",
               str(known_capture), "--out", str(resumed), "--steps", "30", "--eval-every", "4",
               "--seed", "0", "--checkpoint-every", "5"]
    child = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (resumed / "checkpoints" / "latest.safetensors").exists() and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.kill()
    child.wait()
    assert not (resumed / "scene.ply").exists()
    subprocess.run([*command, "--resume"], check=True, capture_output=True, timeout=300)
    assert (straight / "scene.ply").read_bytes() == (resumed / "scene.ply").read_bytes()


def test_mcmc_strategy_keeps_its_budget(known_capture, tmp_path):
    metrics = train_capture(known_capture, _quiet_config(
        steps=60, strategy="mcmc", max_splats=1300, refine_start=5, refine_every=10,
        remove_floaters=False), tmp_path / "mcmc")
    assert 1000 <= metrics["splats"] <= 1300
    assert metrics["psnr"] > 15


def test_bad_input(tmp_path, known_capture, cli):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("reconstruct", "train", empty)
    assert result.code == 2
    assert result.err == (f"error: {empty}: no SfM results (sfm/cameras.json) — run "
                          "`setsplat reconstruct sfm` on it first\n")
    broken = tmp_path / "broken"
    shutil.copytree(known_capture, broken)
    (broken / "sfm" / "images" / "view_003.png").unlink()
    result = cli("reconstruct", "train", broken, "--steps", "2")
    assert result.code == 2 and "training image is missing" in result.err
    assert not (broken / "train" / "scene.ply").exists()
    result = cli("reconstruct", "train", known_capture, "--steps", "0")
    assert result.code == 2 and "--steps" in result.err
