"""Exposure judged on what carries detail: flat blown regions (sky, lamps, windows) are no
fault, clipping that eats texture is flagged, and only a photo left without texture is
culled. On synthetic photos of the stage scan and on real exterior photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from setsplat.capture import qc
from setsplat.capture.images import load_image

STAGE_IMAGES = Path(__file__).resolve().parents[2] / "sample_scans" / "stage" / "images"


def _judge(photos: list[np.ndarray], scores: list[qc.Scores] | None = None
           ) -> list[qc.ImageVerdict]:
    n = len(photos)
    scores = scores or [qc.measure(p) for p in photos]
    return qc.evaluate([f"im{i}" for i in range(n)], scores,
                       [qc.signature(p) for p in photos], ["cam"] * n,
                       [(p.shape[1], p.shape[0]) for p in photos])


def _gain(pixels: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(pixels.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def _with_sky(pixels: np.ndarray, share: float) -> np.ndarray:
    """The top of the frame blown to white, fading into the set below it (a window onto
    a bright sky)."""
    out = pixels.astype(np.float32)
    edge = int(share * len(out))
    fade = np.linspace(1, 0, 12)[:, None, None]
    out[:edge] = 255
    out[edge:edge + 12] = fade * 255 + (1 - fade) * out[edge:edge + 12]
    return out.astype(np.uint8)


def _with_lamp(pixels: np.ndarray) -> np.ndarray:
    """A practical light in frame: a blown disk with a glow around it."""
    h, w = pixels.shape[:2]
    y, x = np.mgrid[:h, :w]
    r = np.hypot(y - 0.3 * h, x - 0.6 * w) - 0.06 * h
    glow = 255 * np.exp(-np.maximum(r, 0) ** 2 / (2 * (0.04 * h) ** 2))
    return np.maximum(pixels.astype(np.float32), glow[..., None]).astype(np.uint8)


@pytest.fixture(scope="module")
def stage_photos() -> list[np.ndarray]:
    return [load_image(STAGE_IMAGES / f"stage_{i:03d}.jpg").pixels for i in range(0, 40, 5)]


def test_sky_and_lamps_are_no_fault_but_blowing_the_set_is(stage_photos):
    photos = list(stage_photos)
    photos[1] = _with_sky(photos[1], 0.6)  # most of the photo: flat white
    photos[2] = _with_lamp(photos[2])
    photos[3] = _gain(photos[3], 4.0)  # textured walls cut off: flagged, enough left
    photos[4] = _gain(photos[4], 8.0)  # the whole set blown
    sky, lamp = qc.measure(photos[1]), qc.measure(photos[2])
    assert sky.highlights > 0.55 and sky.clipped_flat > 0.55 and sky.clipped_texture < 0.01
    assert lamp.highlights > 0.005 and lamp.clipped_texture < 0.001
    verdicts = _judge(photos)
    flags = {v.name: [(f.kind, f.severity) for f in v.flags] for v in verdicts if v.flags}
    assert flags == {"im3": [("over-exposed", "warn")], "im4": [("over-exposed", "cull")]}
    assert [v.use for v in verdicts] == [True] * 4 + [False] + [True] * 3
    assert "carries detail" in verdicts[4].flags[0].reason


def test_real_exterior_with_a_blown_sky_keeps_every_photo(shared_data):
    """The fountain scan 0.85 stops brighter: its sky blows out, in two photos 11 and 15
    points more than the capture's median of 10% (the case that culled good photos when
    the clipped share alone counted); no photo is culled. One photo 2 stops over loses
    its facade, and is."""
    folder = shared_data / "strecha" / "fountain_p11" / "images"
    photos = [_gain(load_image(p).pixels, 1.8) for p in sorted(folder.glob("*.jpg"))]
    scores = [qc.measure(p) for p in photos]
    highlights = [s.highlights for s in scores]
    assert sum(h - np.median(highlights) > 0.1 for h in highlights) == 2
    verdicts = _judge(photos, scores)
    assert all(v.use for v in verdicts), [(v.name, v.flags) for v in verdicts if v.flags]
    scores[5] = qc.measure(_gain(photos[5], 2.2))
    assert _judge(photos, scores)[5].culled_for == ["over-exposed"]


@pytest.mark.parametrize("scan", ["entry_p10", "fountain_p11", "herzjesu_p8"])
def test_real_exteriors_are_not_flagged_for_exposure(shared_data, scan):
    """(templering and movi_house: tests/capture/test_ingest.py)"""
    paths = sorted((shared_data / "strecha" / scan / "images").glob("*.jpg"))
    verdicts = _judge([load_image(p).pixels for p in paths])
    kinds = {f.kind for v in verdicts for f in v.flags}
    assert not kinds & {"over-exposed", "under-exposed"} and all(v.use for v in verdicts)
