"""QC rules on known numbers, and the EXIF helpers behind the intrinsics prior."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from setsplat.capture import qc
from setsplat.capture.exif import CameraInfo, read_camera_info


def _verdicts(scores, signatures=None, cameras=None, sizes=None, keep_all=False):
    n = len(scores)
    rng = np.random.default_rng(1)
    signatures = signatures or [rng.normal(size=(24, 32)) for _ in range(n)]
    return qc.evaluate([f"im{i}" for i in range(n)], scores, signatures,
                       cameras or ["cam"] * n, sizes or [(640, 480)] * n, keep_all=keep_all)


def _scores(sharpness=100.0, highlights=0.0, shadows=0.0, brightness=100.0, texture=0.0,
            flat=0.0, detail=0.9):
    return qc.Scores(sharpness, highlights, shadows, brightness, texture, flat, detail)


def test_blur_is_judged_against_the_capture_median():
    scores = [_scores(s) for s in (100, 90, 110, 105, 95, 20, 30)]
    flagged = {v.name: v.culled_for for v in _verdicts(scores) if v.flags}
    assert flagged == {"im5": ["blurry"]}  # 20 < 0.25 x 95; 30 is not


def test_dark_backgrounds_are_not_under_exposure_but_a_jump_is():
    # a turntable capture: about half of every frame is black velvet
    scores = [_scores(shadows=s, brightness=b, detail=0.35) for s, b in
              ((0.45, 50), (0.55, 35), (0.65, 31), (0.5, 40), (0.6, 33))]
    assert not any(v.flags for v in _verdicts(scores))
    scores.append(_scores(shadows=0.93, brightness=6, detail=0.02))
    flagged = {v.name: v.culled_for for v in _verdicts(scores) if v.flags}
    assert flagged == {"im5": ["under-exposed"]}


def test_a_darker_photo_that_keeps_its_detail_is_flagged_and_kept():
    scores = [_scores(brightness=b) for b in (100, 110, 95, 105)] + [
        _scores(brightness=22, detail=0.8)]
    verdicts = _verdicts(scores)
    assert [(f.kind, f.severity) for f in verdicts[4].flags] == [("under-exposed", "warn")]
    assert verdicts[4].use and "stops below" in verdicts[4].flags[0].reason


def test_over_exposure_is_clipping_over_texture_and_culls_only_without_detail():
    scores = [_scores(highlights=h, texture=t, flat=f, detail=d) for h, t, f, d in (
        (0.02, 0.01, 0.01, 0.95), (0.03, 0.02, 0.01, 0.93), (0.12, 0.01, 0.11, 0.85),
        (0.60, 0.01, 0.59, 0.38),  # a photo mostly of flat sky: nothing lost, no flag
        (0.25, 0.20, 0.05, 0.70),  # a facade clipped: flagged, enough detail to keep
        (0.65, 0.55, 0.10, 0.25),  # blown over texture with little left: culled
        (0.95, 0.00, 0.95, 0.01))]  # one blown sheet: no texture left at all
    verdicts = _verdicts(scores)
    flags = {v.name: [(f.kind, f.severity) for f in v.flags] for v in verdicts if v.flags}
    assert flags == {"im4": [("over-exposed", "warn")], "im5": [("over-exposed", "cull")],
                     "im6": [("over-exposed", "cull")]}
    assert [v.use for v in verdicts] == [True] * 5 + [False] * 2


def test_exposure_explains_lost_sharpness():
    scores = [_scores(), _scores(), _scores(),
              _scores(sharpness=2, highlights=0.7, texture=0.6, flat=0.1, detail=0.1)]
    assert [v.culled_for for v in _verdicts(scores)][3] == ["over-exposed"]


def test_duplicates_keep_the_sharpest_of_a_group():
    base = np.random.default_rng(0).normal(size=(24, 32))
    other = np.random.default_rng(5).normal(size=(24, 32))
    signatures = [base, other, base + 0.01, base - 0.01]
    scores = [_scores(100), _scores(100), _scores(120), _scores(80)]
    verdicts = _verdicts(scores, signatures)
    assert [v.use for v in verdicts] == [False, True, True, False]
    assert "near-duplicate of im2" in verdicts[0].flags[0].reason
    assert all(f.kind == "duplicate" for v in verdicts for f in v.flags)


def test_mixed_cameras_and_sizes_are_warnings_only():
    scores = [_scores() for _ in range(4)]
    verdicts = _verdicts(scores, cameras=["A", "A", "A", "B"],
                         sizes=[(640, 480)] * 2 + [(480, 640)] * 2)
    kinds = [[(f.kind, f.severity) for f in v.flags] for v in verdicts]
    assert ("mixed-camera", "warn") in kinds[3]
    assert all(v.use for v in verdicts)
    assert qc.summary(verdicts)["flags"] == {"mixed-camera": 1, "mixed-size": 2}


def test_keep_all_culls_nothing():
    scores = [_scores(s) for s in (100, 100, 100, 1)]
    verdicts = _verdicts(scores, keep_all=True)
    assert all(v.use for v in verdicts) and verdicts[3].culled_for == ["blurry"]


def test_measure_on_known_images():
    flat = np.full((120, 160, 3), 128, np.uint8)
    scores = qc.measure(flat)
    assert (scores.sharpness, scores.highlights, scores.shadows) == (0.0, 0.0, 0.0)
    half = flat.copy()
    half[:, :80] = 255
    half[:60, 80:] = 0
    scores = qc.measure(half)
    assert scores.highlights == pytest.approx(0.5) and scores.shadows == pytest.approx(0.25)
    big = np.random.default_rng(0).integers(0, 255, (2000, 3000, 3), np.uint8)
    assert qc.measure(big).sharpness > 0  # measured at 1024 px on the long side


def _jpeg_with(exif_items: dict, sub_items: dict) -> Image.Image:
    exif = Image.Exif()
    exif.update(exif_items)
    exif.get_ifd(0x8769).update(sub_items)
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300)).save(buffer, "JPEG", exif=exif.tobytes())
    buffer.seek(0)
    return Image.open(buffer)


def test_focal_length_from_the_focal_plane_resolution():
    from PIL.TiffImagePlugin import IFDRational

    image = _jpeg_with({0x010F: "Canon", 0x0110: "EOS"},
                       {0x920A: IFDRational(50, 1), 0xA20E: IFDRational(4000, 36),
                        0xA210: 4, 0xA002: 4000, 0x9003: "2024:05:01 12:30:00",
                        0x9291: "25", 0x9011: "+02:00"})
    info = read_camera_info(image)
    assert info.sensor_width_mm == pytest.approx(36)
    assert info.timestamp == "2024-05-01T12:30:00.25+02:00"
    fx, source = info.focal_px(400, 300, rotated=False)
    assert fx == pytest.approx(50 / 36 * 400) and "focal plane" in source
    fx_rotated, _ = info.focal_px(300, 400, rotated=True)
    assert fx_rotated == pytest.approx(fx)  # sensor x is now the image's y


def test_no_focal_length_means_no_prior_and_bad_exif_is_harmless():
    assert CameraInfo().focal_px(640, 480, rotated=False) is None
    image = _jpeg_with({0x0112: 42}, {0x920A: "not a number", 0x9003: "yesterday"})
    info = read_camera_info(image)
    assert info.orientation == 1 and info.focal_length_mm is None and info.timestamp is None
    assert info.camera_id == "unknown camera"
