"""`setsplat shots ...` around the main flow: scan-photo starts, takes, EXR plates, the
unreal package's shots, the catalog migration, and every bad input as one line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import read_only

from .conftest import WALL_Z, scan_cameras
from .test_flow import make_clip, run_json

pytest.importorskip("pxr")

SMALL = ("--resolution", "64x36")


def one_error_line(result, code=2) -> str:
    assert result.code == code, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


def _new(cli, name, *args):
    return run_json(cli, "shots", "new", name, "--asset", "Set_Test", *SMALL, *args)


def test_from_capture_starts_at_the_photo(cli, lib):
    from setsplat.assets import Library
    from setsplat.shots import shot_cameras, store

    shot = _new(cli, "EP03_SH010", "--from-capture", "photos/IMG_0002.JPG",
                "--path", "dolly-in:amount=0.3", "--frames", "6")
    photo = scan_cameras()[1]
    assert shot["focal_mm"] == pytest.approx(photo.fx * 36 / photo.width)  # the photo's FOV
    assert "from a scan photo" in shot["camera"]
    with store.open_catalog(Library.resolve(lib)) as catalog:
        cameras = shot_cameras(store.get_shot(catalog, "EP03_SH010")[0])
    np.testing.assert_allclose(cameras[0].pose_in("yup", "RUB"), photo.pose_in("yup", "RUB"),
                               atol=1e-6)
    travel = cameras[-1].center - cameras[0].center
    assert np.linalg.norm(travel) == pytest.approx(0.3)
    assert cameras[0].fov_x == pytest.approx(photo.fov_x)
    error = one_error_line(cli("shots", "new", "EP03_SH020", "--asset", "Set_Test",
                               "--from-capture", "IMG_9999.jpg"))
    assert "no scan photo named 'IMG_9999.jpg'" in error and "IMG_0001.jpg" in error


def test_takes_list_show_select(cli, lib, tmp_path):
    _new(cli, "EP01_SH010", "--frames", "12")
    first = run_json(cli, "shots", "add-clip", "EP01_SH010", make_clip(tmp_path / "a.mp4", 12, 24),
                     "-s", "ModelA / a door opens")
    result = cli("--json", "shots", "add-clip", "EP01_SH010",
                 make_clip(tmp_path / "b.mp4", 15, 30), "-s", "ModelB")
    assert result.code == 0
    assert result.err.startswith("warning: ") and "30 fps, the shot at 24 fps" in result.err
    second = json.loads(result.out)
    assert (first["take"], first["selected"], second["take"], second["selected"]) == \
        (1, True, 2, False)
    assert Path(second["path"]).name == "EP01_SH010_take002.mp4"
    assert cli("shots", "select-take", "EP01_SH010", "2").code == 0
    shown = run_json(cli, "shots", "show", "EP01_SH010")
    assert [t["selected"] for t in shown["takes"]] == [False, True]
    assert shown["takes"][1]["source"] == "ModelB"
    listed = run_json(cli, "shots", "list", "EP01")
    assert [(s["name"], s["selected_take"]) for s in listed] == [("EP01_SH010", 2)]
    human = cli("shots", "show", "EP01_SH010")
    assert "take 2 (selected)" in human.out
    assert one_error_line(cli("shots", "select-take", "EP01_SH010", "7")).endswith(
        "its takes: 1, 2")


def test_exr_plates(cli, lib, tmp_path):
    import OpenEXR
    from PIL import Image

    _new(cli, "EP04_SH010", "--path", "static:azimuth=0,height=1.2,target_height=1.2",
         "--frames", "2")
    manifest = run_json(cli, "shots", "render", "EP04_SH010", "--exr", "--lod", "preview",
                        "--out", tmp_path / "plates")
    folder = tmp_path / "plates"
    assert manifest["depth"]["format"] == "exr" and not (folder / "depth" / "depth.json").exists()
    with OpenEXR.File(str(folder / "depth" / "EP04_SH010.1001.exr")) as exr:
        depth = np.asarray(exr.channels()["Z"].pixels)
    with OpenEXR.File(str(folder / "rgb" / "EP04_SH010.1001.exr")) as exr:
        rgba = np.asarray(exr.channels()["RGBA"].pixels)
    record = json.loads((folder / "camera" / "EP04_SH010.1001.json").read_text())
    eye_z = np.array(record["usd"]["camera_to_world"])[2, 3]
    np.testing.assert_allclose(depth[:14, 8:56], eye_z - WALL_Z, atol=1e-4)  # float metres
    alpha = np.asarray(Image.open(folder / "alpha" / "EP04_SH010.1001.png")) / 255
    np.testing.assert_allclose(rgba[..., 3], alpha, atol=0.5 / 255 + 1e-6)
    assert rgba[..., :3].max() <= 1 and rgba[..., :3].min() >= 0
    assert record["image"] == "rgb/EP04_SH010.1001.exr"


def test_unreal_package_carries_the_shots(cli, lib, tmp_path):
    from pxr import Usd, UsdGeom

    _new(cli, "EP01_SH010", "--path", "orbit:degrees=30", "--frames", "4")
    out = tmp_path / "unreal"
    result = run_json(cli, "export", "unreal", "Set_Test@1", "--shots", "--no-mesh",
                      "--out", out)
    assert "shots/EP01_SH010.usda" in result["files"]
    stage = Usd.Stage.Open(str(out / "shots" / "EP01_SH010.usda"))
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (1001, 1004)
    prim = stage.GetPrimAtPath("/EP01_SH010/Camera")
    library_stage = Usd.Stage.Open(str(lib / "shots" / "EP01_SH010" / "EP01_SH010.usda"))
    same = library_stage.GetPrimAtPath("/EP01_SH010/Camera")
    for frame in range(1001, 1005):
        np.testing.assert_allclose(
            np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(frame)),
            np.array(UsdGeom.Xformable(same).ComputeLocalToWorldTransform(frame)), atol=1e-12)
    assert "shots/EP01_SH010.usda  frames 1001-1004 at 24 fps" in (out / "README.txt").read_text()



def test_catalog_migrates_from_schema_1(tmp_path):
    from setsplat.assets import Library
    from setsplat.assets.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog
    from setsplat.shots import store

    path = tmp_path / "catalog.sqlite"
    with Catalog(path, create=True, migrations=MIGRATIONS[:1]) as old:
        old.reserve("Set_Old", "me:1", lambda version: None)
    with store.open_catalog(Library(tmp_path)) as catalog:
        assert catalog.schema_version() == SCHEMA_VERSION
        assert catalog.pending("Set_Old")[0]["version"] == 1
    tables = {r[0] for r in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"shots", "takes", "renders"} <= tables


def test_shots_tables_made_by_the_asset_catalog_are_kept(tmp_path):
    """Catalogs of schema 3 got the shots tables from the asset catalog's step 1 -> 2
    (the SQL now in shots.store); the shots area's own first step leaves them as they
    are."""
    from setsplat.assets import Library
    from setsplat.assets.catalog import MIGRATIONS, Catalog
    from setsplat.shots import store

    path = tmp_path / "catalog.sqlite"
    before_the_move = [MIGRATIONS[0], store.MIGRATIONS[0], MIGRATIONS[2]]
    with Catalog(path, create=True, migrations=before_the_move) as old:
        old.reserve("Set_Old", "me:1", lambda version: None)
        version_id = old.pending("Set_Old")[0]["id"]
        with old.write() as db:
            db.execute("INSERT INTO shots (name, episode, version_id, path, frame_start, "
                       "frame_end, fps, focal_mm, filmback_width_mm, filmback_height_mm, "
                       "width, height, created_at, updated_at) VALUES ('EP01_SH010', 'EP01', "
                       "?, '{}', 1001, 1002, 24, 35, 36, 24, 64, 48, 't', 't')", (version_id,))
    with store.open_catalog(Library(tmp_path)) as catalog:
        assert catalog.query("SELECT name FROM shots") == [{"name": "EP01_SH010"}]
        assert catalog.query("SELECT value FROM catalog_info WHERE key = 'schema:shots'") \
            == [{"value": "1"}]


def test_publish_keeps_the_capture_cameras(lib):
    from setsplat.assets import verify
    from setsplat.core.camera import read_cameras

    kept = read_cameras(lib / "assets" / "Set_Test" / "v001" / "cameras.json")
    assert [c.name for c in kept] == ["IMG_0001.jpg", "IMG_0002.jpg"]
    np.testing.assert_allclose(kept[1].world_to_camera, scan_cameras()[1].world_to_camera)
    assert verify()["ok"]


def test_bad_input_is_one_line(cli, lib, tmp_path, set_source):
    (tmp_path / "bad.yaml").write_text("keys: [frame: 1\n")
    (tmp_path / "nokeys.json").write_text(json.dumps({"keys": [{"frame": 1001}]}))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "garbage.mp4").write_bytes(b"\x00\x01 not a video" * 50)
    cases = [
        (("shots", "new", "EP01_SH010", "--asset", "Set_Nope"), "no asset named"),
        (("shots", "new", "shot1", "--asset", "Set_Test"), "EPISODE_SHOT"),
        (("shots", "new", "EP01_SH010", "--asset", "Set_Test", "--path", "spin"),
         "neither a preset"),
        (("shots", "new", "EP01_SH010", "--asset", "Set_Test", "--path",
          tmp_path / "missing.json"), "no such file"),
        (("shots", "new", "EP01_SH010", "--asset", "Set_Test", "--path", tmp_path / "bad.yaml"),
         "not valid YAML"),
        (("shots", "new", "EP01_SH010", "--asset", "Set_Test", "--path",
          tmp_path / "nokeys.json"), "key 1: needs a position"),
        (("shots", "new", "EP01_SH010", "--asset", "Set_Test", "--resolution", "64x48",
          "--filmback", "36x20.25"), "filmback 36x20.25 mm"),
        (("shots", "new", "EP01_SH010", "--asset", "Set_Test", "--end", "1010", "--frames",
          "4"), "--end or --frames"),
        (("shots", "new", "EP01_SH010", "--asset", "Set_Test", "--resolution", "big"),
         "WIDTHxHEIGHT"),
        (("shots", "new", "EP01_SH010", "--asset", "Set_Test", "--frames", "100000000"),
         "100000000 frames is too many"),
        (("shots", "show", "EP09_SH010"), "no shot named 'EP09_SH010'"),
        (("shots", "render", "EP09_SH010"), "no shot named"),
        (("shots", "add-clip", "EP09_SH010", tmp_path / "garbage.mp4"), "no shot named"),
        (("shots", "timeline", "EP09", "--out", tmp_path / "x.otio"), "no shots in episode"),
    ]
    for args, message in cases:
        assert message in one_error_line(cli(*args)), args

    _new(cli, "EP01_SH010", "--frames", "3")
    assert "already exists" in one_error_line(cli("shots", "new", "EP01_SH010", "--asset",
                                                  "Set_Test", *SMALL))
    assert cli("-q", "shots", "new", "EP01_SH010", "--asset", "Set_Test", *SMALL,
               "--frames", "4", "--replace").code == 0
    assert cli("-q", "assets", "publish", set_source, "--name", "Set_Test",
               "--no-thumbnails").code == 0
    more = [
        (("shots", "add-clip", "EP01_SH010", tmp_path / "garbage.mp4"), "not a readable video"),
        (("shots", "add-clip", "EP01_SH010", tmp_path / "none.mp4"), "no such file"),
        (("shots", "render", "EP01_SH010", "--out", tmp_path), "not an earlier shot render"),
        (("shots", "render", "EP01_SH010", "--resolution", "64x64"), "filmback"),
        (("shots", "timeline", "EP01", "--out", tmp_path / "x.edl"), "end --out with"),
        (("shots", "timeline", "EP01_SH010", "--out", tmp_path / "x.otio"),
         "not a shot name prefix"),
        (("export", "unreal", "Set_Test@2", "--shots", "--out", tmp_path / "u"),
         "no shots are made in Set_Test@2 — shots of this set are in Set_Test@1"),
        (("export", "unreal", set_source / "scene.ply", "--shots", "--out", tmp_path / "u"),
         "--shots needs the unreal target and an asset source"),
    ]
    for args, message in more:
        assert message in one_error_line(cli(*args)), args
    (tmp_path / "locked").mkdir()
    with read_only(tmp_path / "locked"):
        line = one_error_line(cli("shots", "timeline", "EP01", "--out",
                                  tmp_path / "locked" / "ep01.otio"))
    assert "ep01.otio: " in line and "while writing the timeline" in line
    shot_folder = lib / "shots" / "EP01_SH010"
    assert [p.name for p in shot_folder.rglob("*")] == ["EP01_SH010.usda"]
    assert not list(tmp_path.glob(".*part"))
    assert "no asset library here" in one_error_line(cli("shots", "list", "--library",
                                                         tmp_path / "elsewhere"))
