"""Checkpoints hold tensors and plain data only, and --resume continues the saved run."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from setsplat.core.errors import SetsplatError
from setsplat.core.io import tensors
from setsplat.reconstruct.train import checkpoint

FAST = ("--steps", "6", "--eval-every", "4", "--checkpoint-every", "3")


class _Planted:
    """Unpickling this runs os.system: a payload someone could hide in a checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_round_trip_is_safetensors(tmp_path):
    state = {"params": {"means": torch.arange(6, dtype=torch.float32).reshape(2, 3)},
             "optimizers": {"means": {"state": {0: {"step": torch.tensor(3.0)}},
                                      "param_groups": [{"betas": (0.9, 0.999), "params": [0],
                                                        "foreach": None}]}},
             "order": torch.ByteTensor([1, 2, 255]), "losses": [0.5, float("inf")],
             "flag": True, "name": "x"}
    path = tmp_path / "c.safetensors"
    checkpoint.save(path, state)
    back = checkpoint.load(path, torch.device("cpu"))
    assert torch.equal(back["params"]["means"], state["params"]["means"])
    assert list(back["optimizers"]["means"]["state"]) == [0]  # integer keys stay integers
    assert back["optimizers"]["means"]["param_groups"][0]["betas"] == [0.9, 0.999]
    assert back["order"].dtype == torch.uint8 and back["order"].tolist() == [1, 2, 255]
    assert back["losses"] == [0.5, float("inf")] and back["flag"] is True
    # an independent reader (the safetensors library) reads the same arrays
    from safetensors.numpy import load_file

    judged = load_file(str(path))
    ours, _ = tensors.read(path)
    assert judged.keys() == ours.keys()
    for name in ours:
        assert judged[name].dtype == ours[name].dtype
        np.testing.assert_array_equal(judged[name], ours[name])


def test_a_planted_pickle_is_refused_and_never_runs(tmp_path, known_capture, cli):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"params": _Planted(marker)})
    for name in ("latest.pt", "latest.safetensors"):
        out = tmp_path / name
        (out / "checkpoints").mkdir(parents=True)
        (out / "checkpoints" / name).write_bytes(payload)
        (out / "config.json").write_text("{}")
        result = cli("reconstruct", "train", known_capture, "--out", out, "--resume")
        assert result.code == 2, result.err
        assert result.err.startswith(f"error: {out / 'checkpoints' / name}: ")
        assert result.err.count("\n") == 1
    assert not marker.exists()
    # and the payload is real: plain unpickling would have run it
    pickle.loads(payload)
    assert marker.exists()


@pytest.mark.parametrize("damage", [b"", b"\x10" + b"\0" * 7 + b"{}", b"\xff" * 8 + b"{}",
                                    b"\x08\0\0\0\0\0\0\0[1,2,3]", b"\x02" + b"\0" * 7 + b"{}"])
def test_damaged_checkpoints_are_one_line_errors(tmp_path, damage):
    path = tmp_path / "c.safetensors"
    path.write_bytes(damage)
    with pytest.raises(SetsplatError):
        checkpoint.load(path, torch.device("cpu"))


def test_a_checkpoint_of_another_run_is_refused(tmp_path, known_capture):
    from setsplat.reconstruct.train import TrainConfig, train_capture

    out = tmp_path / "train"
    train_capture(known_capture, TrainConfig(steps=3, eval_every=4, checkpoint_every=3), out)
    with pytest.raises(SetsplatError, match="does not fit"):
        train_capture(known_capture, TrainConfig(steps=3, eval_every=4, sh_degree=1,
                                                 checkpoint_every=3), out, resume=True)


def test_resume_needs_a_checkpoint(tmp_path, known_capture, cli):
    out = tmp_path / "train"
    result = cli("reconstruct", "train", known_capture, "--out", out, "--resume", *FAST)
    assert result.code == 2
    assert result.err == (f"error: {out}: nothing to resume: no checkpoint in checkpoints/ — "
                          "run it without --resume to start training\n")
    assert not (out / "scene.ply").exists()


def test_resume_continues_the_saved_config(tmp_path, known_capture, cli):
    out = tmp_path / "train"
    first = cli("--json", "reconstruct", "train", known_capture, "--out", out,
                "--resolution", "2", *FAST)
    assert first.code == 0, first.err
    saved = (out / "config.json").read_bytes()

    changed = cli("reconstruct", "train", known_capture, "--out", out, "--resume",
                  "--resolution", "1")
    assert changed.code == 2
    assert "options differ (downscale 2 -> 1)" in changed.err and "--force" in changed.err
    assert (out / "config.json").read_bytes() == saved

    resumed = cli("--json", "reconstruct", "train", known_capture, "--out", out, "--resume")
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out)["image_size"] == [32, 24]  # half of 64x48, as saved
    assert (out / "config.json").read_bytes() == saved

    forced = cli("--json", "reconstruct", "train", known_capture, "--out", out, "--resume",
                 "--steps", "9", "--force")
    assert forced.code == 0, forced.err
    assert json.loads(forced.out)["steps"] == 9
    assert json.loads((out / "config.json").read_text())["downscale"] == 2
