"""`setsplat batch` on a real Ray: a local one in this process, and a cluster of a head
and two worker nodes on this machine's loopback."""

from __future__ import annotations

import dataclasses
import json
import os
import signal

from setsplat.assets import Library, open_catalog
from setsplat.assets import verify as verify_library
from setsplat.farm import BatchOptions, batch, captures
from setsplat.pipeline import RunConfig
from setsplat.reconstruct.train import TrainConfig
from setsplat.reconstruct.train.checkpoint import FILE as CHECKPOINT_FILE

FAST = ["--steps", "20", "--eval-every", "4", "--sh-degree", "1"]


def test_a_bad_capture_is_reported_and_the_others_land(cli, ray_env, tiny_captures, tmp_path):
    good = tiny_captures("set_a", "set_b")
    bad = tmp_path / "captures" / "set_c"
    bad.mkdir()
    for index in range(3):  # photos that are not photos
        (bad / f"IMG_{index}.jpg").write_bytes(os.urandom(4000))
    listed = tmp_path / "captures.txt"
    listed.write_text(f"# day 1\n{good[1]}\n\n{bad}\n")

    result = cli("--json", "batch", good[0], "--list", listed, "--out", tmp_path / "runs",
                 "--cpus", "2", *FAST)

    assert result.code == 1
    summary = json.loads(result.out)
    by_name = {c["capture"]: c for c in summary["captures"]}
    assert [c["capture"] for c in summary["captures"]] == ["set_a", "set_b", "set_c"]
    assert (summary["landed"], summary["failed"]) == (2, 1)
    for name in ("set_a", "set_b"):
        landed = by_name[name]
        assert landed["status"] == "done" and landed["attempts"] == 1
        assert landed["stages"]["sfm"]["registered"] == 10
        assert landed["stages"]["train"]["psnr"] > 12
        assert (tmp_path / "runs" / name / "train" / "scene.ply").is_file()
    failed = by_name["set_c"]
    assert failed["status"] == "failed" and failed["attempts"] == 1  # bad input: no retry
    assert "none of the 3 files is a usable image" in failed["error"]
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert str(bad) in result.err
    assert summary["cluster"]["address"].startswith("127.")  # loopback only


def test_a_killed_worker_is_retried_and_training_resumes(ray_cluster, tiny_captures,
                                                         tmp_path, postgres_url, monkeypatch):
    """The worker training the capture dies (kill -9) after a checkpoint: the task is
    tried again and training carries on from that checkpoint, not from step 0. A re-run
    is up to date; one with --publish publishes into the shared PostgreSQL catalog that
    only this driver was told of."""
    [source] = tiny_captures("set_a")
    out = tmp_path / "runs"
    checkpoint = out / "set_a" / "train" / "checkpoints" / CHECKPOINT_FILE
    config = RunConfig(train=TrainConfig(steps=80, eval_every=4, sh_degree=1,
                                         checkpoint_every=10))
    options = BatchOptions(address=ray_cluster.address, retries=1)
    killed: list[int] = []

    def watch(rows: list[dict]) -> None:
        row = rows[0]
        if row.get("step") != "training" or row.get("done") is None:
            return
        if not killed and row["done"] > 10 and checkpoint.is_file():
            os.kill(row["pid"], signal.SIGKILL)
            killed.append(row["pid"])

    summary = batch(captures([source], out), config, options, on_progress=watch)

    [result] = summary["captures"]
    assert killed, "training ended before the test could kill its worker"
    assert result["status"] == "done", result
    assert result["attempts"] == 2 and "died" in result["failures"][0]
    metrics = json.loads((out / "set_a" / "train" / "metrics.json").read_text())
    assert metrics["resumed_from_step"] >= 10 and metrics["resumed_from_step"] % 10 == 0
    assert metrics["steps"] == 80
    assert result["stages"]["train"]["psnr"] > 12
    assert summary["cluster"]["cpus"] == 2 and len(summary["cluster"]["address"]) > 0

    again = batch(captures([source], out), config, options)
    [rerun] = again["captures"]
    assert rerun["status"] == "up to date" and rerun["attempts"] == 1
    assert {s["status"] for s in rerun["stages"].values()} == {"up to date"}

    monkeypatch.setenv("SETSPLAT_CATALOG", postgres_url)
    library = tmp_path / "library"
    published = batch(captures([source], out),
                      dataclasses.replace(config, publish="Set", library=str(library)), options)
    [landed] = published["captures"]
    assert landed["stages"]["train"]["status"] == "up to date"
    assert landed["stages"]["publish"]["ref"] == "Set_set_a@1", landed
    shared = Library.resolve(library, postgres_url)
    assert verify_library(shared)["ok"]
    with open_catalog(shared) as catalog:
        assert [r["ref"] for r in catalog.versions()] == ["Set_set_a@1"]
    assert not (library / "catalog.sqlite").exists()


def test_bad_batches_are_one_line(cli, tiny_captures, tmp_path):
    first = tiny_captures("set_a")[0]
    twin = tmp_path / "elsewhere" / "set_a"
    twin.mkdir(parents=True)
    cases = {
        (): "no captures given",
        (first, twin): "two captures are both named set_a",
        (first, "--list", tmp_path / "missing.txt"): "cannot read the capture list",
        (first, "--address", "127.0.0.2:1"): "no Ray cluster answers at 127.0.0.2:1",
        (first, "--address", "head"): "--address head is not HOST:PORT or auto",
        (first, "--force", "paint"): "unknown stage paint for --force",
    }
    for args, message in cases.items():
        result = cli("batch", *args, "--out", tmp_path / "runs")
        assert result.code == 2, (args, result.err)
        assert result.err.count("\n") == 1 and message in result.err, result.err
    assert not (tmp_path / "runs").exists()


def test_force_is_split_between_the_two_tasks():
    """A stage forced in the first task redoes training in the second one too (its
    inputs were made again); a stage of the second task only forces that task."""
    from setsplat.farm.batch import _force
    from setsplat.farm.tasks import PHASES

    assert PHASES == (("ingest", "check", "sfm"), ("train", "publish", "export"))
    assert (_force(("sfm",), 0), _force(("sfm",), 1)) == (("sfm",), ("train",))
    assert (_force(("train",), 0), _force(("train",), 1)) == ((), ("train",))
    assert (_force(("publish",), 0), _force(("publish",), 1)) == ((), ("publish",))
    assert (_force((), 0), _force((), 1)) == ((), ())
