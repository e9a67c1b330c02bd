"""`setsplat export` through the CLI: outputs, --json, and every bad input as one line."""

from __future__ import annotations

import json

import pytest

from setsplat.core.io import read_scene, write_scene
from tests.export.conftest import room_corner


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "room.ply"
    write_scene(path, room_corner(300).replace(meta={"unscaled": True}))
    return path


def test_export_spz_json(cli, source, tmp_path):
    out = tmp_path / "out"
    result = cli("--json", "export", "spz", source, "--out", out, "--max-splats", "100",
                 "--crop", "box:-2,-2,-2,2,2,3")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["splats"] == 100 and data["unscaled"] is True
    assert sorted(data["files"]) == ["README.txt", "manifest.json", "room.spz"]
    assert len(read_scene(out / "room.spz")) == 100
    assert "warning:" in result.err and "unscaled" in result.err


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_our_spz_keeps_metres_and_upright(cli, tmp_path, version):
    """The issue's round trip: `export ply` of our exported .spz knows it is metric and
    upright (from the manifest beside it), so it does not warn."""
    source = tmp_path / "room.ply"
    write_scene(source, room_corner(300).replace(meta={"unscaled": False, "upright": "floor"}))
    spz_out, ply_out = tmp_path / "spz", tmp_path / "ply"
    result = cli("export", "spz", source, "--out", spz_out, "--spz-version", version)
    assert result.code == 0 and "unscaled" not in result.err, result.err
    assert (spz_out / "room.spz").read_bytes()[:2] == (b"NG" if version == "4" else b"\x1f\x8b")
    assert f"SPZ version {version}" in (spz_out / "README.txt").read_text()
    result = cli("export", "ply", spz_out / "room.spz", "--out", ply_out)
    assert result.code == 0 and "unscaled" not in result.err, result.err
    meta = read_scene(ply_out / "room.ply").meta
    assert meta["unscaled"] is False and meta["upright"] == "floor"


def test_export_streamed_sog(cli, tmp_path):
    source = tmp_path / "room.ply"
    write_scene(source, room_corner(1000))
    result = cli("--json", "export", "sog", source, "--out", tmp_path / "o", "--lod",
                 "--budget", "quest")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["levels"] == [3000, 1500] and "lod-meta.json" in data["files"]
    result = cli("export", "sog", source, "--out", tmp_path / "p", "--budget", "watch")
    assert result.code == 2 and "watch" in result.err


def test_export_ply_frame_units(cli, source, tmp_path):
    result = cli("export", "ply", source, "--out", tmp_path / "o", "--frame", "unreal",
                 "--units", "m", "--name", "set")
    assert result.code == 0, result.err
    assert read_scene(tmp_path / "o" / "set.ply").frame.name == "unreal"


@pytest.mark.parametrize("args, what", [
    (["export", "spz", "{missing}", "--out", "{out}"], "no such file"),
    (["export", "spz", "{bad}", "--out", "{out}"], "not a PLY"),
    (["export", "spz", "{src}", "--out", "{out}", "--crop", "ball:1"], "bad --crop"),
    (["export", "spz", "{src}", "--out", "{out}", "--crop", "sphere:50,50,50,1"],
     "keeps no splats"),
    (["export", "gltf", "{src}", "--out", "{out}", "--units", "cm"], "always written"),
    (["export", "unity", "{src}", "--out", "{out}", "--frame", "rdf"], "always written"),
    (["export", "nope", "{src}", "--out", "{out}"], "Invalid value"),
    (["export", "mesh", "{src}", "--out", "{out}", "--mesh-trim", "0.9"], "--mesh-trim"),
    (["export", "spz", "{src}"], "Missing option '--out'"),
    (["export", "spz", "{src}", "--out", "{file}"], "not a folder"),
    (["export", "spz", "Set_Office@7", "--out", "{out}", "--library", "{out}"],
     "no asset library here"),
])
def test_bad_input_is_one_line(cli, source, tmp_path, args, what):
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"garbage")
    file = tmp_path / "file.txt"
    file.write_text("x")
    values = {"missing": tmp_path / "missing.ply", "bad": bad, "src": source,
              "out": tmp_path / "out", "file": file}
    result = cli(*[a.format(**values) for a in args])
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and what in lines[0], result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_full_disk_leaves_nothing(cli, source, tmp_path, monkeypatch):
    """A write failing mid-export (no space) is one line, and nothing appears in --out."""
    import errno

    from setsplat.core.io import spz

    def no_room(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spz, "_zstd_compress", no_room)  # the web package's SPZ v4
    result = cli("export", "web", source, "--out", tmp_path / "out")
    assert result.code == 2 and "no room left" in result.err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_export_never_overwrites_its_source(cli, source, tmp_path):
    before = source.read_bytes()
    for extra in ((), ("--force",)):
        result = cli("export", "ply", source, "--out", tmp_path, *extra)
        assert result.code == 2
        assert result.err == (f"error: {source}: the export would overwrite its own input — "
                              "give --out another folder, or another --name\n")
    assert source.read_bytes() == before


def test_export_keeps_files_it_did_not_write(cli, source, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.txt").write_text("my notes")
    result = cli("export", "spz", source, "--out", out)
    assert result.code == 2 and "README.txt: exists, and no earlier export wrote it" in result.err
    assert (out / "README.txt").read_text() == "my notes"
    assert sorted(p.name for p in out.iterdir()) == ["README.txt"]
    assert cli("export", "spz", source, "--out", out, "--force").code == 0
    assert "my notes" not in (out / "README.txt").read_text()
    # files an export wrote may be written again; a changed one is kept
    assert cli("export", "spz", source, "--out", out, "--max-splats", "10").code == 0
    (out / "room.spz").write_bytes(b"edited")
    result = cli("export", "spz", source, "--out", out)
    assert result.code == 2 and "room.spz: exists" in result.err
    assert (out / "room.spz").read_bytes() == b"edited"


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "..", ".hidden", "a\\b"])
def test_export_name_stays_in_out(cli, source, tmp_path, name):
    result = cli("export", "spz", source, "--out", tmp_path / "out", "--name", name)
    assert result.code == 2 and "is not a plain file name" in result.err
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "x.spz").exists()
