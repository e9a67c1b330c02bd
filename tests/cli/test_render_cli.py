"""setsplat render: PNG color and 16-bit depth per view, and one-line errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from setsplat.core.camera import Camera, write_cameras
from setsplat.core.io import ply


@pytest.fixture
def job(tmp_path, scene_factory):
    scene = scene_factory(300, degree=2, spread=1.0)
    scene_path = tmp_path / "scene.ply"
    ply.write(scene_path, scene)
    cameras = [Camera.look_at([0, 0, -4.0], [0, 0, 0], width=48, height=32, name="front/a"),
               Camera.look_at([3.0, -1, -3.0], [0, 0, 0], width=40, height=40, name="")]
    cameras_path = tmp_path / "cameras.json"
    write_cameras(cameras_path, cameras)
    return scene_path, cameras_path, tmp_path / "out"


def test_renders_every_view_with_depth(cli, job):
    scene_path, cameras_path, out = job
    result = cli("--json", "render", scene_path, "--cameras", cameras_path, "--out", out)
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["splats"] == 300 and summary["backend"] == "cpu"
    assert [os.path.basename(v["image"]) for v in summary["views"]] == ["a.png",
                                                                        "view_0001.png"]
    rgb = np.asarray(Image.open(out / "a.png"))
    assert rgb.shape == (32, 48, 3) and rgb.dtype == np.uint8 and rgb.max() > 50
    depth_png = Image.open(out / "a.depth.png")
    depth = np.asarray(depth_png).astype(np.float64)
    assert depth_png.mode.startswith("I;16") or depth.max() > 255
    scale = json.loads((out / "a.depth.json").read_text())["scale"]
    assert scale == summary["views"][0]["depth_scale"]
    hit = depth > 0
    # the splats sit around the origin, 4 units in front of the camera
    assert hit.mean() > 0.3 and 2.5 < np.median(depth[hit] * scale) < 5.5
    assert np.asarray(Image.open(out / "view_0001.png")).shape == (40, 40, 3)


def test_alpha_and_median_depth(cli, job):
    scene_path, cameras_path, out = job
    result = cli("-q", "render", scene_path, "--cameras", cameras_path, "--out", out,
                 "--alpha", "--depth", "median", "--background", "1,1,1")
    assert result.code == 0, result.err
    assert np.asarray(Image.open(out / "a.png")).shape == (32, 48, 4)
    assert json.loads((out / "a.depth.json").read_text())["depth"] == "median"


def test_missing_scene(cli, job, tmp_path):
    _, cameras_path, out = job
    result = cli("render", tmp_path / "nope.ply", "--cameras", cameras_path, "--out", out)
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: {tmp_path / 'nope.ply'}: no such file")
    assert not out.exists()


@pytest.mark.parametrize("content", ["{not json", '{"cameras": "x"}',
                                     '{"cameras": [{"width": 4}]}'])
def test_bad_cameras_file(cli, job, content):
    scene_path, cameras_path, out = job
    cameras_path.write_text(content)
    result = cli("render", scene_path, "--cameras", cameras_path, "--out", out)
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: {cameras_path}: ")
    assert not out.exists()


def test_empty_camera_list(cli, job):
    scene_path, cameras_path, out = job
    write_cameras(cameras_path, [])
    result = cli("render", scene_path, "--cameras", cameras_path, "--out", out)
    assert result.code == 2
    assert result.err == (f"error: {cameras_path}: the cameras file lists no cameras — add at "
                          "least one camera\n")


def test_unwritable_out_dir(cli, job):
    """sysfs refuses new folders to everyone, root included (chmod would not stop root)."""
    scene_path, cameras_path, _ = job
    out = "/sys/setsplat-render-test/views"
    result = cli("render", scene_path, "--cameras", cameras_path, "--out", out)
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: {out}: permission denied while creating")


def test_out_is_a_file(cli, job, tmp_path):
    scene_path, cameras_path, _ = job
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("render", scene_path, "--cameras", cameras_path, "--out", blocker)
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: {blocker}: ")


def test_bad_background_and_missing_gpu(cli, job):
    scene_path, cameras_path, out = job
    bad = cli("render", scene_path, "--cameras", cameras_path, "--out", out,
              "--background", "red")
    assert bad.code == 2 and "--background" in bad.err
    import torch

    if not torch.cuda.is_available():
        gpu = cli("render", scene_path, "--cameras", cameras_path, "--out", out,
                  "--backend", "cuda")
        assert gpu.code == 2 and "no CUDA GPU" in gpu.err


def test_exr_depth_keeps_the_float_depth(cli, job):
    import OpenEXR

    from setsplat.core.camera import read_cameras
    from setsplat.core.io import read_scene
    from setsplat.render import render_scene

    scene_path, cameras_path, out = job
    result = cli("--json", "render", scene_path, "--cameras", cameras_path, "--out", out,
                 "--depth-format", "exr")
    assert result.code == 0, result.err
    assert json.loads(result.out)["views"][0]["depth"].endswith("a.depth.exr")
    assert json.loads((out / "a.depth.json").read_text())["scale"] == 1.0
    with OpenEXR.File(str(out / "a.depth.exr")) as exr:
        z = np.asarray(exr.channels()["Z"].pixels)
    assert z.dtype == np.float32 and z.shape == (32, 48)
    camera = read_cameras(cameras_path)[0]
    truth = render_scene(read_scene(scene_path), [camera])[0].depth[0, ..., 0].numpy()
    np.testing.assert_array_equal(z, np.where(truth > 0, truth, 0).astype(np.float32))
    # the 16-bit PNG of the same view agrees to within its quantisation step
    cli("-q", "render", scene_path, "--cameras", cameras_path, "--out", out / "png")
    scale = json.loads((out / "png" / "a.depth.json").read_text())["scale"]
    png = np.asarray(Image.open(out / "png" / "a.depth.png"), np.float64) * scale
    assert np.abs(png - z).max() <= scale / 2 + 1e-6 and (z > 0).mean() > 0.3


def test_write_view_refuses_unknown_depth_kinds_and_formats(job, tmp_path):
    from setsplat.core.camera import read_cameras
    from setsplat.core.io import read_scene
    from setsplat.render import render_scene
    from setsplat.render.image_files import write_view

    scene_path, cameras_path, _ = job
    output = render_scene(read_scene(scene_path), read_cameras(cameras_path)[:1])[0]
    for options in ({"depth": "mean"}, {"depth_format": "tiff"}):
        with pytest.raises(ValueError, match="depth is one of"):
            write_view(output, tmp_path / "out", "v", **options)
    assert not (tmp_path / "out").exists()
