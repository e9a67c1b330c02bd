"""`setsplat run`: the whole flow on the tiny sample scan, then resumption."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

TINY = Path(__file__).resolve().parents[1] / "sample_scans" / "tiny"
FAST = ["--steps", "20", "--eval-every", "4", "--sh-degree", "1"]


def _stages(result) -> dict:
    assert result.code == 0, result.err
    return json.loads(result.out)["stages"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "photos"
    shutil.copytree(TINY / "images", folder)
    return folder


def test_run_then_resume(cli, photos, tmp_path):
    out = tmp_path / "run"
    first = _stages(cli("--json", "run", photos, "--out", out, *FAST))
    assert [s["status"] for s in first.values()] == ["done"] * 4
    assert first["ingest"]["images"] == 10
    assert first["sfm"]["registered"] == 10
    assert first["train"]["psnr"] > 10
    scene = out / "train" / "scene.ply"
    assert scene.is_file() and (out / "run.json").is_file()
    stamp = scene.stat().st_mtime_ns

    again = _stages(cli("--json", "run", photos, "--out", out, *FAST))
    assert {s["status"] for s in again.values()} == {"up to date"}
    assert scene.stat().st_mtime_ns == stamp
    _publish_and_export(cli, photos, out, tmp_path / "library", first["train"]["splats"])

    longer = _stages(cli("--json", "run", photos, "--out", out, "--steps", "25",
                         *FAST[2:]))
    assert [s["status"] for s in longer.values()] == ["up to date"] * 3 + ["done"]

    # a redo starts afresh: training after a forced stage must not read its old checkpoint
    (out / "train" / "checkpoints" / "latest.safetensors").write_bytes(b"stale")
    forced = _stages(cli("--json", "run", photos, "--out", out, "--steps", "25", *FAST[2:],
                         "--force", "sfm"))
    assert [s["status"] for s in forced.values()] == ["up to date"] * 2 + ["done"] * 2
    (out / "train" / "checkpoints" / "latest.safetensors").write_bytes(b"stale")
    retrained = _stages(cli("--json", "run", photos, "--out", out, "--steps", "25",
                            *FAST[2:], "--force", "train"))
    assert [s["status"] for s in retrained.values()] == ["up to date"] * 3 + ["done"]

    (out / "sfm" / "cameras.json").unlink()  # a missing output redoes its stage
    redone = _stages(cli("--json", "run", photos, "--out", out, "--steps", "25", *FAST[2:]))
    assert [s["status"] for s in redone.values()] == ["up to date"] * 2 + ["done"] * 2


def _publish_and_export(cli, photos, out, library, splats):
    """--publish and --export carry the run on into the catalog and the packages, each
    a stage that is skipped when up to date; the packages come from the published
    version."""
    asked = ["--publish", "Tiny_Set", "--export", "unreal,web", "--library", library]
    first = _stages(cli("--json", "run", photos, "--out", out, *FAST, *asked))
    assert list(first) == ["ingest", "check", "sfm", "train", "publish", "export"]
    assert [s["status"] for s in first.values()] == ["up to date"] * 4 + ["done"] * 2
    assert first["publish"]["ref"] == "Tiny_Set@1"
    record = json.loads(cli("--json", "assets", "show", "Tiny_Set@1", "--library",
                            library).out)
    assert record["splats"] == splats
    for target in ("unreal", "web"):
        manifest = json.loads((out / "export" / target / "manifest.json").read_text())
        assert manifest["splats"] == splats
    assert (out / "export" / "web" / "Tiny_Set.spz").is_file()

    again = _stages(cli("--json", "run", photos, "--out", out, *FAST, *asked))
    assert {s["status"] for s in again.values()} == {"up to date"}
    more = _stages(cli("--json", "run", photos, "--out", out, *FAST, *asked,
                       "--export", "ply"))
    assert [s["status"] for s in more.values()] == ["up to date"] * 5 + ["done"]
    assert {"ply", "unreal", "web"} <= set(more["export"])
    republished = _stages(cli("--json", "run", photos, "--out", out, *FAST, *asked,
                              "--force", "publish"))
    assert republished["publish"]["ref"] == "Tiny_Set@2"
    assert republished["export"]["status"] == "done"


def test_a_changed_photo_redoes_everything(cli, photos, tmp_path):
    source = tmp_path / "photos"
    shutil.copytree(photos, source)
    out = tmp_path / "run"
    _stages(cli("--json", "run", source, "--out", out, *FAST))
    first = sorted(source.iterdir())[0]
    first.write_bytes(first.read_bytes())  # same bytes, new time: the source changed
    redone = _stages(cli("--json", "run", source, "--out", out, *FAST))
    assert [s["status"] for s in redone.values()] == ["done"] * 4


def test_until_stops_after_a_stage_and_the_rest_follows_on(photos, tmp_path):
    from setsplat.pipeline import run

    out = tmp_path / "run"
    first = run(photos, out, until="check")
    assert list(first) == ["ingest", "check"]
    assert {s["status"] for s in first.values()} == {"done"}
    again = run(photos, out, until="check")
    assert {s["status"] for s in again.values()} == {"up to date"}
    assert not (out / "sfm").exists()


def test_bad_input(cli, tmp_path, photos):
    result = cli("run", tmp_path / "missing")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "no such file or folder" in result.err
    result = cli("run", photos, "--out", tmp_path / "o", "--force", "paint")
    assert result.code == 2 and "unknown stage paint for --force" in result.err
    (tmp_path / "afile").write_text("x")
    result = cli("run", photos, "--out", tmp_path / "afile")
    assert result.code == 2 and "afile: exists and is not a folder" in result.err
    result = cli("run", photos, "--out", tmp_path / "o", "--export", "unreal")
    assert result.code == 2 and "add --publish NAME" in result.err
    result = cli("run", photos, "--out", tmp_path / "o", "--publish", "A", "--export",
                 "unreal,paint")
    assert result.code == 2 and "paint" in result.err
    result = cli("run", photos, "--out", tmp_path / "o", "--publish", "../A")
    assert result.code == 2 and "asset name '../A' is not allowed" in result.err
    result = cli("run", photos, "--out", photos / "inside")
    assert result.code == 2 and "the output folder is inside the source" in result.err
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("run", empty, "--out", tmp_path / "e")
    assert result.code == 2 and result.err.startswith("error: ")
    assert not (tmp_path / "e" / "capture").exists()
