"""Do the photos of a capture agree on color? Per-photo exposure offsets from SfM tracks.

A sparse point seen in several photos is one piece of a (mostly diffuse) surface: at a
fixed exposure and white balance every photo records it alike. So each observation's
color against the mean of its track, in stops per channel, says how much brighter or
bluer that photo came out; the median over a photo's observations is its offset.
Auto exposure, clouds or an opened door spread the offsets; a locked camera leaves
them within JPEG noise and the odd reflection.

``varies`` is the test that turns exposure compensation on in training (``auto``):
the offsets of some channel spread by a standard deviation above ``VARIES_STOPS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from setsplat.reconstruct.colmap_io import ColmapModel

VARIES_STOPS = 0.1  # std of the photos' offsets (stops) above which they vary
MIN_TRACK = 3  # observations a point needs to count
USABLE = (0.03, 0.95)  # observed values (0..1) outside this are clipped or noise
MIN_OBSERVATIONS = 20  # a photo with fewer usable observations gets no offset


def exposure_offsets(model: ColmapModel, image_dir: Path) -> dict[str, list[float]]:
    """Per photo (by name), its R, G, B offset in stops against the tracks' means."""
    from setsplat.core.limits import open_image

    names = {image_id: image.name for image_id, image in model.images.items()}
    colors: dict[int, np.ndarray] = {}
    for image_id, image in model.images.items():
        with open_image(image_dir / image.name) as photo:
            pixels = np.asarray(photo.convert("RGB"), np.float32) / 255
        xy = np.clip(np.floor(image.xy).astype(np.int64), 0,
                     [pixels.shape[1] - 1, pixels.shape[0] - 1])
        colors[image_id] = pixels[xy[:, 1], xy[:, 0]] if len(xy) else np.zeros((0, 3))
    residuals: dict[int, list[np.ndarray]] = {image_id: [] for image_id in names}
    for track in model.tracks:
        if len(track) < MIN_TRACK:
            continue
        seen = np.stack([colors[int(i)][int(k)] for i, k in track])
        usable = np.all((seen > USABLE[0]) & (seen < USABLE[1]), axis=1)
        if usable.sum() < MIN_TRACK:
            continue
        stops = np.log2(seen[usable])
        for (image_id, _), residual in zip(track[usable], stops - stops.mean(0)):
            residuals[int(image_id)].append(residual)
    return {names[i]: np.median(r, axis=0).round(4).tolist()
            for i, r in residuals.items() if len(r) >= MIN_OBSERVATIONS}


def summary(offsets: dict[str, list[float]]) -> dict[str, Any]:
    """What the SfM report keeps: the offsets, their spread and the verdict."""
    if len(offsets) < 2:
        return {"offsets_stops": offsets, "spread_stops": None, "varies": False,
                "test": "too few photos with shared points to tell"}
    spread = np.asarray(list(offsets.values())).std(axis=0)
    return {"offsets_stops": offsets, "spread_stops": spread.round(4).tolist(),
            "varies": bool(spread.max() > VARIES_STOPS),
            "test": f"std of the photos' R, G or B offsets above {VARIES_STOPS} stops"}
