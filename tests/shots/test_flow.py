"""The whole shots flow through the CLI on a set built to be known: two shots (a preset
and keyframes), rendered small, an AI clip registered, the timeline and the USD shot
stage written. Frame counts and durations must agree everywhere, the USD camera must
be the plates' camera at every frame, and the depth plates must hit the wall where
geometry says it is."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from setsplat.core.fsutil import sha256_file

from .conftest import SPLAT_SIGMA, WALL_TOP, WALL_X, WALL_Z

pytest.importorskip("pxr")
otio = pytest.importorskip("opentimelineio")
av = pytest.importorskip("av")

KEYS = """\
ease: true
keys:
  - frame: 1001
    position: [-1.0, 1.4, 0.5]
    look_at: [0.0, 1.2, -3.0]
  - frame: 1005
    position: [0.0, 1.5, 0.0]
    look_at: [0.2, 1.0, -3.0]
    focal_mm: 50
  - frame: 1010
    position: [0.9, 1.2, -0.5]
    look_at: [0.5, 1.0, -3.0]
"""


def make_clip(path: Path, frames: int, fps: int, size=(64, 36)) -> Path:
    """An 'AI clip': frames of changing color, H.264, made with PyAV directly."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for i in range(frames):
            image = np.full((size[1], size[0], 3), (7 * i) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def video_frames(path: Path) -> tuple[int, Fraction, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.average_rate, count / float(stream.average_rate)


def run_json(cli, *args):
    result = cli("--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def expected_wall_depth(record: dict, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space z where each pixel's ray meets the wall (NaN where it meets the floor
    first or misses the wall), from the frame's camera record alone."""
    intr = record["intrinsics"]
    c2w = np.array(record["usd"]["camera_to_world"])
    # ray with camera-space z = 1 (OpenCV), in USD camera axes (x, -y, -z)
    x = (pixels[:, 0] + 0.5 - intr["cx"]) / intr["fx"]
    y = (pixels[:, 1] + 0.5 - intr["cy"]) / intr["fy"]
    directions = np.stack([x, -y, -np.ones_like(x)], 1) @ c2w[:3, :3].T
    origin = c2w[:3, 3]
    t_wall = (WALL_Z - origin[2]) / directions[:, 2]
    hit = origin + t_wall[:, None] * directions
    with np.errstate(divide="ignore"):
        t_floor = np.where(directions[:, 1] < 0, -origin[1] / directions[:, 1], np.inf)
    inside = ((hit[:, 0] > WALL_X[0] + 0.15) & (hit[:, 0] < WALL_X[1] - 0.15)
              & (hit[:, 1] > 0.15) & (hit[:, 1] < WALL_TOP - 0.15) & (t_wall > 0)
              & (t_wall < t_floor - 0.2))
    return np.where(inside, t_wall, np.nan), hit


def test_shots_flow(cli, lib, tmp_path):
    from pxr import Usd, UsdGeom

    from setsplat.assets import Library
    from setsplat.shots import shot_cameras, store

    keys = tmp_path / "keys.yaml"
    keys.write_text(KEYS)
    first = run_json(cli, "shots", "new", "EP01_SH010", "--asset", "Set_Test",
                     "--path", "dolly-in:amount=0.6", "--frames", "12", "--resolution",
                     "64x36", "--notes", "she opens the door")
    second = run_json(cli, "shots", "new", "EP01_SH020", "--asset", "Set_Test@1",
                      "--path", keys, "--resolution", "64x36", "--lens", "40")
    assert first["asset"] == second["asset"] == "Set_Test@1"
    assert (first["frame_start"], first["frame_end"], first["fps"]) == (1001, 1012, 24.0)
    assert (second["frame_start"], second["frame_end"]) == (1001, 1010)  # from the keys
    shots = {"EP01_SH010": first, "EP01_SH020": second}

    renders = {name: run_json(cli, "shots", "render", name) for name in shots}
    clips = {"EP01_SH010": make_clip(tmp_path / "gen_a.mp4", 12, 24),
             "EP01_SH020": make_clip(tmp_path / "gen_b.mp4", 10, 24)}
    takes = {name: run_json(cli, "shots", "add-clip", name, clip, "--source",
                            "VideoModel 2 / she opens the door") for name, clip in clips.items()}
    out = tmp_path / "EP01.otio"
    summary = run_json(cli, "shots", "timeline", "EP01", "--out", out)
    assert summary["warnings"] == []

    library = Library.resolve(lib)
    with store.open_catalog(library) as catalog:
        defined = {name: store.get_shot(catalog, name)[0] for name in shots}

    timeline = otio.adapters.read_from_file(str(out))
    plates, ai = timeline.tracks
    assert [m.name for clip in plates for m in clip.markers] == list(shots)
    for index, (name, shot) in enumerate(shots.items()):
        frames, fps, duration = shot["frames"], shot["fps"], shot["duration_s"]
        folder = Path(renders[name]["folder"])
        # --- frame counts and durations agree everywhere
        for sub, suffix in (("rgb", "png"), ("depth", "png"), ("alpha", "png"),
                            ("camera", "json")):
            assert len(list((folder / sub).glob(f"{name}.*.{suffix}"))) == frames, sub
        assert video_frames(folder / f"{name}.preview.mp4") == (frames, fps, duration)
        assert video_frames(folder / "conditioning" / "depth.mp4") == (frames, fps, duration)
        trajectory = json.loads((folder / "conditioning" / "camera_trajectory.json").read_text())
        assert len(trajectory["cameras"]) == frames == trajectory["frames"]
        assert takes[name]["frames"] == frames and takes[name]["duration_s"] == duration
        assert takes[name]["selected"] and takes[name]["sha256"] == sha256_file(clips[name])
        assert sha256_file(takes[name]["path"]) == sha256_file(clips[name])
        assert plates[index].duration() == otio.opentime.RationalTime(frames, fps)
        assert ai[index].duration() == otio.opentime.RationalTime(frames, fps)
        assert ai[index].media_reference.target_url.endswith(Path(takes[name]["path"]).name)
        assert plates[index].media_references()["plates"].number_of_images_in_sequence() \
            == frames

        # --- the USD camera at frame f is the camera the plate at frame f was made with
        for stage_path in (folder / f"{name}.usda",
                           lib / "shots" / name / f"{name}.usda"):
            stage = Usd.Stage.Open(str(stage_path))
            assert stage.GetCompositionErrors() == []
            assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (1001, 1000 + frames)
            assert stage.GetTimeCodesPerSecond() == stage.GetFramesPerSecond() == fps
            set_prim = stage.GetPrimAtPath(f"/{name}/Set")
            assert set_prim.GetVariantSets().GetVariantSelection("lod") == "preview"
            assert set_prim.GetChild("Splats").IsValid()
            camera_prim = stage.GetPrimAtPath(f"/{name}/Camera")
            recomputed = shot_cameras(defined[name], 64, 36)
            for i, frame in enumerate(range(1001, 1001 + frames)):
                record = json.loads((folder / "camera" / f"{name}.{frame}.json").read_text())
                c2w = np.array(UsdGeom.Xformable(camera_prim).ComputeLocalToWorldTransform(
                    frame)).T
                np.testing.assert_allclose(c2w, record["usd"]["camera_to_world"], atol=1e-9)
                np.testing.assert_allclose(np.array(record["opencv"]["world_to_camera"]),
                                           np.linalg.inv(recomputed[i].pose_in("rdf", "RDF")),
                                           atol=1e-9)
                np.testing.assert_allclose(record["intrinsics"]["K"], recomputed[i].K)
                _assert_same_projection(UsdGeom.Camera(camera_prim).GetCamera(frame), record)

        # --- the depth plate is where the wall is
        scale = json.loads((folder / "depth" / "depth.json").read_text())["scale"]
        checked = 0
        for frame in (1001, 1000 + frames):
            from PIL import Image

            record = json.loads((folder / "camera" / f"{name}.{frame}.json").read_text())
            depth = np.asarray(Image.open(folder / "depth" / f"{name}.{frame}.png"),
                               np.float64) * scale
            alpha = np.asarray(Image.open(folder / "alpha" / f"{name}.{frame}.png"))
            ys, xs = np.mgrid[0:36, 0:64]
            pixels = np.stack([xs.ravel(), ys.ravel()], 1)
            wanted, _ = expected_wall_depth(record, pixels)
            mask = np.isfinite(wanted)
            assert mask.sum() > 200  # most of the frame sees the wall
            got = depth.ravel()[mask]
            np.testing.assert_allclose(got, wanted[mask], rtol=0.01)
            # Seen at an angle, the nearer of overlapping splats weigh more (front-to-back
            # compositing): the rendered surface sits up to ~0.7 splat sigma in front.
            assert np.abs(got - wanted[mask]).max() < 0.7 * SPLAT_SIGMA
            assert alpha.ravel()[mask].min() >= 250
            checked += 1
        assert checked == 2

    # the timeline converts to a bundle that ships with OpenTimelineIO, media inside
    bundle = tmp_path / "EP01.otioz"
    assert cli("-q", "shots", "timeline", "EP01", "--out", bundle).code == 0
    extracted = tmp_path / "unpacked"
    extracted.mkdir()
    again = otio.adapters.read_from_file(str(bundle), extract_to_directory=str(extracted))
    assert again.duration() == timeline.duration() == otio.opentime.RationalTime(22, 24)
    assert sorted(p.name for p in (extracted / "media").iterdir()) == sorted(
        ["EP01_SH010.preview.mp4", "EP01_SH020.preview.mp4", "EP01_SH010_take001.mp4",
         "EP01_SH020_take001.mp4"])

    # the conditioning package has what a video model is handed
    conditioning = Path(renders["EP01_SH010"]["folder"]) / "conditioning"
    assert {p.name for p in conditioning.iterdir()} == {
        "first_frame.png", "last_frame.png", "depth.mp4", "camera_trajectory.json",
        "prompt.txt", "conditioning.json"}
    prompt = (conditioning / "prompt.txt").read_text()
    assert "Set_Test@1" in prompt and "checkered wall and floor" in prompt
    assert "she opens the door" in prompt


def _assert_same_projection(gf_camera, record: dict) -> None:
    """USD's own projection matrix (from focal length and apertures) puts points where
    the plate's K does."""
    intr = record["intrinsics"]
    projection = np.array(gf_camera.frustum.ComputeProjectionMatrix()).T
    rng = np.random.default_rng(0)
    opencv = np.column_stack([rng.uniform(-1, 1, 20), rng.uniform(-0.6, 0.6, 20),
                              rng.uniform(1, 5, 20)])
    usd = opencv * [1, -1, -1]
    clip = np.column_stack([usd, np.ones(20)]) @ projection.T
    ndc = clip[:, :3] / clip[:, 3:]
    pixels_usd = np.column_stack([(ndc[:, 0] + 1) * intr["width"] / 2,
                                  (1 - ndc[:, 1]) * intr["height"] / 2])
    k = np.array(intr["K"])
    pixels_k = (opencv @ k.T)[:, :2] / opencv[:, 2:]
    np.testing.assert_allclose(pixels_usd, pixels_k, atol=1e-3)
    assert gf_camera.focalLength * 100 == pytest.approx(intr["focal_length_mm"], rel=1e-6)


def test_depth_head_on_is_the_distance_to_the_wall(lib):
    """Looking level at the wall, every wall splat is at the same camera z: the depth
    plate is the distance to the wall to within the 16-bit step."""
    from PIL import Image

    from setsplat.shots import RenderOptions, ShotOptions, new_shot, render_shot

    shot = new_shot("EP02_SH010", ShotOptions(
        asset="Set_Test",
        path="truck:azimuth=0,height=1.2,target_height=1.2,distance=1.5,amount=0.4",
        frames=2, resolution=(64, 36)))
    manifest = render_shot(shot["name"], options=RenderOptions())
    folder = Path(manifest["folder"])
    scale = manifest["depth"]["scale"]
    for frame in (1001, 1002):
        record = json.loads((folder / "camera" / f"EP02_SH010.{frame}.json").read_text())
        eye = np.array(record["usd"]["camera_to_world"])[:3, 3]
        depth = np.asarray(Image.open(folder / "depth" / f"EP02_SH010.{frame}.png"),
                           np.float64) * scale
        upper = depth[:14, :56]  # above the horizon and left of the wall's right end
        np.testing.assert_allclose(upper, eye[2] - WALL_Z, atol=scale + 1e-4)
