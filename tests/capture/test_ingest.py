"""Ingest and check: injected problems are caught for the right reason, real photos pass,
bad input is one line, and the source is never touched."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from setsplat.capture.manifest import read_capture

SAMPLES = Path(__file__).resolve().parents[2] / "sample_scans"
STAGE_IMAGES, TINY_IMAGES = SAMPLES / "stage" / "images", SAMPLES / "tiny" / "images"


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rewrite(path: Path, change, target: Path | None = None, quality: int = 90) -> None:
    """Re-save a JPEG with changed pixels, keeping its EXIF (the camera stays the same)."""
    with Image.open(path) as image:
        exif = image.info.get("exif", b"")
        result = change(image.convert("RGB"))
    if isinstance(result, np.ndarray):
        result = Image.fromarray(np.clip(result, 0, 255).astype(np.uint8))
    result.save(target or path, "JPEG", quality=quality, exif=exif)


def _gain(gain: float, offset: float = 0.0):
    return lambda image: np.asarray(image, np.float32) * gain + offset


@pytest.fixture
def damaged_scan(tmp_path) -> Path:
    """A copy of the stage scan with one of every problem the check must catch."""
    src = tmp_path / "scan"
    shutil.copytree(STAGE_IMAGES, src)
    _rewrite(src / "stage_003.jpg", lambda im: im.filter(ImageFilter.GaussianBlur(2.0)))
    _rewrite(src / "stage_010.jpg", _gain(2.8, 30))  # about 1.5 stops over: walls clipped
    _rewrite(src / "stage_020.jpg", _gain(0.12))  # about 3 stops under
    _rewrite(src / "stage_015.jpg", lambda im: im, target=src / "stage_015_again.jpg",
             quality=80)  # a near-duplicate: the same view saved again
    data = (src / "stage_025.jpg").read_bytes()
    (src / "stage_025.jpg").write_bytes(data[: len(data) // 2])
    (src / "notes.txt").write_text("take 3 was the good one\n")
    (src / "empty.jpg").write_bytes(b"")
    (src / "fake.jpg").write_bytes(b"\x00\x01not a jpeg at all" * 50)
    return src


EXPECTED_FLAGS = {
    "images/stage_003.jpg": ["blurry"],
    "images/stage_010.jpg": ["over-exposed"],
    "images/stage_020.jpg": ["under-exposed"],
}
KEPT = {"images/stage_010.jpg"}  # flagged, but most of its texture is left
EXPECTED_SKIPS = {"stage_025.jpg": "truncated", "notes.txt": "not an image",
                  "empty.jpg": "empty file", "fake.jpg": "not an image"}


def test_injected_problems_are_flagged_for_the_right_reason(cli, damaged_scan, tmp_path):
    before = _tree_hashes(damaged_scan)
    result = cli("--json", "capture", "ingest", damaged_scan, "--out", tmp_path / "cap")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert _tree_hashes(damaged_scan) == before  # the source is never modified
    skipped = {s["source"]: s["reason"] for s in data["skipped"]}
    assert set(skipped) == set(EXPECTED_SKIPS)
    for name, reason in EXPECTED_SKIPS.items():
        assert reason in skipped[name], (name, skipped[name])
    capture = read_capture(tmp_path / "cap")
    flags = {im.name: im.flags for im in capture.images if im.flags}
    duplicates = {n for n, f in flags.items() if f == ["duplicate"]}
    assert duplicates in ({"images/stage_015.jpg"}, {"images/stage_015_again.jpg"})
    assert {n: f for n, f in flags.items() if n not in duplicates} == EXPECTED_FLAGS
    culled = {im.name for im in capture.images if not im.use}
    assert culled == set(EXPECTED_FLAGS) - KEPT | duplicates
    assert len(capture.selected()) == 40 + 1 - 1 - len(culled)  # +copy, -truncated
    report = json.loads((tmp_path / "cap" / "qc.json").read_text())
    assert report["use"] == [im.name for im in capture.selected()]
    assert report["summary"]["culled"] == 3 and report["summary"]["skipped_files"] == 4
    reasons = {i["name"]: i["flags"][0]["reason"] for i in report["images"] if i["flags"]}
    assert "of the capture's median" in reasons["images/stage_003.jpg"]
    assert "blown" in reasons["images/stage_010.jpg"]
    # 3 stops under: crushed shadows or a brightness drop, whichever the check meets first
    assert re.search(r"crushed to black|stops below the capture's median",
                     reasons["images/stage_020.jpg"])
    with Image.open(tmp_path / "cap" / "qc_contact_sheet.png") as sheet:
        assert sheet.width >= 4 * 200 and sheet.height > 5 * 150


def test_keep_all_reports_but_keeps_everything(cli, damaged_scan, tmp_path):
    assert cli("-q", "capture", "ingest", damaged_scan, "--out", tmp_path / "cap",
               "--no-check").code == 0
    assert not (tmp_path / "cap" / "qc.json").exists()
    result = cli("--json", "capture", "check", tmp_path / "cap", "--keep-all")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["summary"]["culled"] == 0 and data["summary"]["flagged"] == 4
    capture = read_capture(tmp_path / "cap")
    assert capture.keep_all and all(im.use for im in capture.images)
    # checking again without --keep-all culls them
    cli("-q", "capture", "check", tmp_path / "cap")
    assert len(read_capture(tmp_path / "cap").selected()) == len(capture.images) - 3


def test_clean_scan_keeps_camera_metadata_and_copies_jpegs(cli, tmp_path):
    result = cli("--json", "capture", "ingest", STAGE_IMAGES, "--out", tmp_path / "cap")
    assert result.code == 0, result.err
    assert json.loads(result.out)["check"]["summary"]["flagged"] == 0
    capture = read_capture(tmp_path / "cap")
    assert capture.kind == "photos" and len(capture.images) == 40 and not capture.skipped
    first = capture.images[0]
    source = STAGE_IMAGES / "stage_000.jpg"
    assert first.source == "stage_000.jpg"
    assert first.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (tmp_path / "cap" / first.name).read_bytes() == source.read_bytes()
    assert first.camera["make"] == "setsplat" and first.camera["focal_length_35mm"] == 27
    assert first.intrinsics_prior["fx"] == pytest.approx(500, rel=0.01)
    assert (first.intrinsics_prior["cx"], first.intrinsics_prior["cy"]) == (320.0, 240.0)
    assert first.timestamp == "2025-03-14T10:00:00" and first.timestamp_source == "exif"
    assert set(first.scores) == {"sharpness", "highlights", "shadows", "brightness",
                                 "clipped_texture", "clipped_flat", "detail"}


def test_max_size_scales_images_and_the_prior(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("stage_000.jpg", "stage_012.jpg"):
        shutil.copy(STAGE_IMAGES / name, src)
    assert cli("-q", "capture", "ingest", src, "--out", tmp_path / "cap", "--max-size",
               "320").code == 0
    image = read_capture(tmp_path / "cap").images[0]
    assert (image.width, image.height, image.source_size) == (320, 240, (640, 480))
    assert image.intrinsics_prior["fx"] == pytest.approx(250, rel=0.01)
    with Image.open(tmp_path / "cap" / image.name) as stored:
        assert stored.size == (320, 240)


def test_exif_orientation_is_applied(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with Image.open(STAGE_IMAGES / "stage_005.jpg") as image:
        exif = image.getexif()
        exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
        image.save(src / "sideways.jpg", quality=95, exif=exif)
    assert cli("-q", "capture", "ingest", src, "--out", tmp_path / "cap").code == 0
    record = read_capture(tmp_path / "cap").images[0]
    assert (record.width, record.height) == (480, 640)
    with Image.open(src / "sideways.jpg") as original, \
            Image.open(tmp_path / "cap" / record.name) as stored:
        expected = np.asarray(ImageOps.exif_transpose(original), np.float32)
        assert np.abs(np.asarray(stored, np.float32) - expected).mean() < 2.0
        assert stored.getexif().get(0x0112, 1) == 1


def test_16_bit_images_become_8_bit_keeping_their_depth(cli, tmp_path):
    import cv2

    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    base = np.asarray(Image.open(TINY_IMAGES / "tiny_000.jpg").convert("RGB"), np.float32)
    twelve_bit = (base[..., 1] / 255 * 4095).astype(np.uint16)  # 12-bit data, 16-bit file
    Image.fromarray(twelve_bit).save(src / "gray12.png")
    full = (base / 255 * 65535 + rng.uniform(0, 200, base.shape)).clip(0, 65535)
    cv2.imwrite(str(src / "rgb16.png"), full.astype(np.uint16)[..., ::-1])
    cv2.imwrite(str(src / "rgb16.tif"), full.astype(np.uint16)[..., ::-1])
    assert cli("-q", "capture", "ingest", src, "--out", tmp_path / "cap").code == 0
    images = {im.source: im for im in read_capture(tmp_path / "cap").images}
    assert {im.bit_depth for im in images.values()} == {16}
    assert [images[n].value_scale for n in ("gray12.png", "rgb16.png")] == [4095, 65535]
    gray = np.asarray(Image.open(tmp_path / "cap" / images["gray12.png"].name))
    np.testing.assert_array_equal(gray[..., 0], np.floor(twelve_bit * (255 / 4095) + 0.5))
    for name in ("rgb16.png", "rgb16.tif"):
        rgb = np.asarray(Image.open(tmp_path / "cap" / images[name].name), np.float32)
        assert np.abs(rgb - full / 257).max() <= 0.51, name
    assert images["rgb16.png"].name != images["rgb16.tif"].name  # both kept, no clash


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for pixels in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_frames_are_the_sharpest_of_each_segment(cli, tmp_path):
    frames, sharp_at = [], []
    for k, path in enumerate(sorted(TINY_IMAGES.glob("*.jpg"))[:6]):
        image = Image.open(path).convert("RGB")
        blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(2.5)))
        sharp = (k * 2) % 5
        sharp_at.append(len(frames) + sharp)
        frames += [np.asarray(image) if i == sharp else blurred for i in range(5)]
    video = tmp_path / "walk.mp4"
    _write_video(video, frames)
    before = hashlib.sha256(video.read_bytes()).hexdigest()
    result = cli("--json", "capture", "ingest", video, "--out", tmp_path / "cap", "--frames", "6")
    assert result.code == 0, result.err
    assert hashlib.sha256(video.read_bytes()).hexdigest() == before
    capture = read_capture(tmp_path / "cap")
    assert capture.kind == "video"
    assert [im.frame["index"] for im in capture.images] == sharp_at
    assert all(im.sha256 == before and im.source == "walk.mp4" for im in capture.images)
    assert capture.images[1].frame["time"] == pytest.approx(sharp_at[1] / 10)
    assert (capture.images[0].width, capture.images[0].height) == (200, 150)


def test_real_photos_get_no_false_blur_or_exposure_flags(cli, shared_data, tmp_path):
    for name, src, count in (("templering", shared_data / "templering" / "images", 19),
                             ("movi_house", shared_data / "movi_house", 9)):
        before = _tree_hashes(src)
        result = cli("--json", "capture", "ingest", src, "--out", tmp_path / name)
        assert result.code == 0, result.err
        data = json.loads(result.out)
        assert data["images"] == count and not data["skipped"]
        kinds = {f["kind"] for item in data["check"]["flagged"] for f in item["flags"]}
        assert not kinds & {"blurry", "over-exposed", "under-exposed"}, data["check"]
        assert data["check"]["summary"]["flagged"] == 0, data["check"]["flagged"]
        assert _tree_hashes(src) == before


# ----- bad input: one line, non-zero exit, nothing left behind -----------------------------
def _one_line_error(result, code: int, *parts: str) -> None:
    assert result.code == code, (result.code, result.err)
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    for part in parts:
        assert part in result.err, result.err


def test_empty_source_is_an_error(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"x")
    result = cli("capture", "ingest", tmp_path / "empty", "--out", tmp_path / "cap")
    _one_line_error(result, 2, "folder has no files")
    assert not (tmp_path / "cap").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]  # no staging left behind


def test_folder_of_only_bad_files_is_an_error(cli, tmp_path):
    src = tmp_path / "bad"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"")
    (src / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (src / "c.txt").write_text("hello")
    result = cli("-q", "capture", "ingest", src, "--out", tmp_path / "cap")
    _one_line_error(result, 2, "none of the 3 files is a usable image", "a.jpg: empty file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


@pytest.mark.parametrize("damage", ["garbage", "zeroed-frames"])
def test_video_without_decodable_frames_is_an_error(cli, tmp_path, damage):
    video = tmp_path / "clip.mp4"
    if damage == "garbage":
        video.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x13" * 500)
    else:
        frames = [np.asarray(Image.open(p).convert("RGB"))
                  for p in sorted(TINY_IMAGES.glob("*.jpg"))[:4]]
        _write_video(video, frames)
        data = bytearray(video.read_bytes())
        start = data.find(b"mdat")
        size = int.from_bytes(data[start - 4:start], "big")
        data[start + 4:start - 4 + size] = bytes(size - 8)
        video.write_bytes(bytes(data))
    result = cli("-q", "capture", "ingest", video, "--out", tmp_path / "cap")
    expected = "not a readable video" if damage == "garbage" else "no decodable frames"
    _one_line_error(result, 2, str(video), expected)
    assert not (tmp_path / "cap").exists()


def test_source_and_output_mistakes_are_one_line(cli, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(TINY_IMAGES, src)
    _one_line_error(cli("capture", "ingest", tmp_path / "nope", "--out", tmp_path / "c"), 2,
                    "no such file or folder")
    _one_line_error(cli("capture", "ingest", src, "--out", src / "cap"), 2,
                    "inside the source")
    _one_line_error(cli("capture", "ingest", src / "tiny_000.jpg", "--out", tmp_path / "c"), 2,
                    "is a single image")
    _one_line_error(cli("capture", "ingest", src, "--out", tmp_path / "c", "--max-size", "8"),
                    2, "--max-size 8 is too small")
    assert cli("-q", "capture", "ingest", src, "--out", tmp_path / "cap").code == 0
    _one_line_error(cli("capture", "ingest", src, "--out", tmp_path / "cap"), 2,
                    "already exists", "--overwrite")
    assert cli("-q", "capture", "ingest", src, "--out", tmp_path / "cap", "--overwrite",
               "--max-size", "100").code == 0
    assert read_capture(tmp_path / "cap").images[0].width == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cap", "src"]
    _one_line_error(cli("capture", "check", src), 2, "not a capture folder",
                    "setsplat capture ingest")
    _one_line_error(cli("capture", "check", tmp_path / "nope"), 2, "no such file or folder")


def test_check_flags_an_image_that_went_bad_after_ingest(cli, tmp_path):
    assert cli("-q", "capture", "ingest", TINY_IMAGES, "--out", tmp_path / "cap").code == 0
    (tmp_path / "cap" / "images" / "tiny_004.jpg").write_bytes(b"")
    result = cli("--json", "capture", "check", tmp_path / "cap", "--keep-all")
    assert result.code == 0, result.err
    flagged = json.loads(result.out)["flagged"]
    assert [(f["name"], f["use"], f["flags"][0]["kind"]) for f in flagged] == [
        ("images/tiny_004.jpg", False, "unreadable")]
