"""`setsplat assets ...` through the CLI: the whole flow, --json, and every bad input
as one line with the right exit code."""

from __future__ import annotations

import json
import sqlite3

import pytest

from setsplat.core.io import ply

pytest.importorskip("pxr")


@pytest.fixture
def lib(tmp_path, monkeypatch):
    monkeypatch.setenv("SETSPLAT_LIBRARY", str(tmp_path / "lib"))
    return tmp_path / "lib"


@pytest.fixture
def source(tmp_path, scene_factory):
    path = tmp_path / "scene.ply"
    ply.write(path, scene_factory(800, degree=2, seed=3))
    return path


def _one_error_line(result, code=2):
    assert result.code == code, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


def test_publish_list_show_search_path_flow(cli, lib, source):
    result = cli("--json", "assets", "publish", source, "--name", "Set_Office",
                 "--tags", "office,interior", "-d", "office, day")
    assert result.code == 0, result.err
    record = json.loads(result.out)
    assert record["ref"] == "Set_Office@1" and record["splats"] == 800
    assert record["mesh"] == "proxy" and record["mesh_triangles"] > 1000
    assert cli("-q", "assets", "publish", source, "--name", "Set_Office", "--half",
               "--no-mesh").code == 0
    listed = json.loads(cli("assets", "list", "--json").out)
    assert [r["ref"] for r in listed] == ["Set_Office@2"]
    assert listed[0]["tags"] == ["interior", "office"] and listed[0]["half"]
    assert listed[0]["mesh"] == "placeholder"
    assert "placeholder box" in cli("assets", "show", "Set_Office@2").out
    versions = json.loads(cli("assets", "list", "Set_Office", "--json").out)
    assert [r["version"] for r in versions] == [1, 2]
    shown = json.loads(cli("assets", "show", "Set_Office@1", "--json").out)
    assert {f["path"] for f in shown["files"]} >= {"Set_Office.usda", "payload/splats.usdc"}
    assert shown["provenance"]["source"]["sha256"] == record["source_sha256"]
    human = cli("assets", "show", "Set_Office@1")
    assert "Set_Office@1" in human.out and "payload/splats.usdc" in human.out
    assert f"proxy mesh {record['mesh_triangles']:,} triangles" in human.out
    found = json.loads(cli("assets", "search", "day", "--json").out)
    assert [r["ref"] for r in found] == ["Set_Office@1"]
    assert json.loads(cli("assets", "search", "--tag", "nothing", "--json").out) == []
    path = cli("assets", "path", "Set_Office@latest").out.strip()
    assert path == str(lib / "assets" / "Set_Office" / "v002" / "Set_Office.usda")
    assert cli("assets", "path", "Set_Office@1", "--payload", "preview").out.strip().endswith(
        "v001/payload/preview.usdc")
    assert "office" in cli("assets", "tag", "Set_Office", "hero").out
    assert json.loads(cli("assets", "tag", "Set_Office", "hero", "-r", "--json").out)[
        "tags"] == ["interior", "office"]
    assert cli("assets", "deprecate", "Set_Office@2", "--reason", "too dark").code == 0
    assert cli("assets", "path", "Set_Office").out.strip().endswith("v001/Set_Office.usda")
    assert cli("assets", "remove", "Set_Office@2").code == 0
    assert (lib / "assets" / "Set_Office" / "v002").is_dir()
    assert cli("assets", "remove", "Set_Office@1", "--purge").code == 0
    assert not (lib / "assets" / "Set_Office" / "v001").exists()
    assert json.loads(cli("assets", "list", "--json").out) == []
    report = cli("assets", "verify", "--json")
    assert report.code == 0 and json.loads(report.out)["ok"]


def test_verify_reports_missing_payload_and_changed_files(cli, lib, source):
    cli("-q", "assets", "publish", source, "--name", "Set_Office")
    cli("-q", "assets", "publish", source, "--name", "Props")
    folder = lib / "assets" / "Set_Office" / "v001"
    (folder / "payload" / "preview.usdc").unlink()
    with open(lib / "assets" / "Props" / "v001" / "payload" / "mesh.usda", "a") as f:
        f.write("\n# edited\n")
    result = cli("assets", "verify")
    assert result.code == 1
    assert "Set_Office@1: missing payload file payload/preview.usdc" in result.out
    assert "Set_Office@1: splats/preview: payload payload/preview.usdc is missing" in result.out
    assert "Props@1: payload/mesh.usda changed after publishing" in result.out
    assert "Warning" not in result.err  # USD's own complaints are folded into our lines
    report = json.loads(cli("assets", "verify", "Props@1", "--json").out)
    assert report["checked"] == ["Props@1"] and len(report["problems"]) == 1
    (lib / "assets" / "Props" / "v001" / "Props.usda").write_text("#usda 1.0\n(\n garbage")
    report = json.loads(cli("assets", "verify", "Props@1", "--json").out)
    problems = [p["problem"] for p in report["problems"]]
    assert "Props.usda changed after publishing (SHA-256 differs)" in problems
    assert any(p.startswith("splats/full: USD cannot open") for p in problems), problems
    _one_error_line(cli("assets", "verify", "Nope@1"))


def test_bad_inputs_are_one_line_errors(cli, lib, source, tmp_path):
    line = _one_error_line(cli("assets", "list"))
    assert "no asset library here" in line
    for name in ("../x", "/abs", "a b", "semi;colon"):
        assert "is not allowed" in _one_error_line(
            cli("assets", "publish", source, "--name", name))
    assert not lib.exists()  # nothing was created for bad input
    assert "no such file" in _one_error_line(
        cli("assets", "publish", tmp_path / "missing.ply", "--name", "A"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no scene in this folder" in _one_error_line(
        cli("assets", "publish", empty, "--name", "A"))
    assert "not both" in _one_error_line(
        cli("assets", "publish", source, "--name", "A", "--units", "cm", "--scale", "2"))
    assert "only apply to a scene marked unscaled" in _one_error_line(
        cli("assets", "publish", source, "--name", "A", "--units", "cm"))
    cli("-q", "assets", "publish", source, "--name", "Set_Office")
    assert "no asset named 'Nope'" in _one_error_line(cli("assets", "show", "Nope@1"))
    assert "has no version 4" in _one_error_line(cli("assets", "show", "Set_Office@4"))
    assert "bad version" in _one_error_line(cli("assets", "path", "Set_Office@two"))
    assert "needs a version number" in _one_error_line(cli("assets", "remove", "Set_Office"))
    assert "not a size" in _one_error_line(cli("assets", "search", "--min-size", "lots"))
    assert "not a date" in _one_error_line(cli("assets", "search", "--after", "May"))


def test_corrupt_and_foreign_catalogs(cli, tmp_path, source):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    db = sqlite3.connect(foreign / "catalog.sqlite")
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()
    line = _one_error_line(cli("assets", "list", "--library", foreign))
    assert "not a setsplat catalog" in line and "catalog.sqlite" in line
    assert "not a setsplat catalog" in _one_error_line(
        cli("assets", "publish", source, "--name", "A", "--library", foreign))
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "catalog.sqlite").write_bytes(b"\x00garbage" * 500)
    assert "corrupt or not a SQLite database" in _one_error_line(
        cli("assets", "list", "--library", corrupt))
    assert "is a file" in _one_error_line(cli("assets", "list", "--library", source))


def _undeletable(folder):
    """Make a file in ``folder`` that this user cannot delete: immutable as root (root
    ignores permissions), a read-only folder otherwise. Returns how to undo it."""
    import os
    import shutil
    import subprocess

    blocker = folder / "payload" / "splats.usdc"
    if os.geteuid() == 0:
        subprocess.run([shutil.which("chattr") or "chattr", "+i", str(blocker)], check=True)
        return lambda: subprocess.run(["chattr", "-i", str(blocker)], check=True)
    blocker.parent.chmod(0o500)
    return lambda: blocker.parent.chmod(0o755)


def test_a_purge_that_cannot_delete_says_so_and_can_be_repeated(cli, lib, source):
    cli("-q", "assets", "publish", source, "--name", "Set_Office", "--no-mesh")
    folder = lib / "assets" / "Set_Office" / "v001"
    undo = _undeletable(folder)
    try:
        line = _one_error_line(cli("assets", "remove", "Set_Office@1", "--purge"), code=1)
    finally:
        undo()
    assert "removed from listings, but its files could not be deleted" in line
    assert str(folder) in line
    row = json.loads(cli("assets", "list", "Set_Office", "--removed", "--json").out)[0]
    assert row["state"] == "removed" and not row["purged"]
    assert cli("assets", "remove", "Set_Office@1", "--purge").code == 0
    assert not folder.exists()
    row = json.loads(cli("assets", "list", "Set_Office", "--removed", "--json").out)[0]
    assert row["purged"]
