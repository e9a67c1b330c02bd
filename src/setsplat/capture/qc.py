"""Quality checks before any compute: blur, exposure, near-duplicates, mixed cameras.

Per image we measure (``measure``):
- sharpness: variance of the Laplacian of the grey image, at most 1024 px on its long
  side so that captures of different resolutions compare;
- highlights / shadows: fraction of pixels with luma >= 250 / <= 5 (clipped);
- a 32x24 grey signature, normalised to zero mean and unit spread, for duplicates.

Flags are relative to the capture itself (``evaluate``), because content sets the
scale: a plaster model on black velvet has half its pixels near black and is fine.
Culling is conservative and always reported: an image is culled (left out of SfM)
only for a flag of severity "cull"; "warn" flags are reported and kept.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

WORK_SIZE = 1024  # long side at which sharpness is measured
SIGNATURE_SIZE = (32, 24)
HIGHLIGHT, SHADOW = 250, 5


@dataclass(frozen=True)
class Thresholds:
    blur_ratio: float = 0.25  # sharpness below this fraction of the capture's median
    clip_min: float = 0.10  # a clipped fraction must be at least this to matter ...
    highlight_excess: float = 0.10  # ... and this far above the capture's median ...
    shadow_excess: float = 0.25  # ... (dark backgrounds vary more than blown skies)
    highlight_always: float = 0.50  # ... or this large whatever the rest do
    shadow_always: float = 0.90
    dark_stops: float = 2.0  # mean brightness this many stops below the capture's median
    duplicate_diff: float = 0.06  # mean |a - b| of normalised signatures


@dataclass
class Scores:
    sharpness: float
    highlights: float
    shadows: float
    brightness: float  # mean luma, 0..255

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in asdict(self).items()}


@dataclass
class Flag:
    kind: str  # blurry, over-exposed, under-exposed, duplicate, mixed-camera, mixed-size
    severity: str  # "cull" or "warn"
    reason: str


@dataclass
class ImageVerdict:
    name: str
    flags: list[Flag] = field(default_factory=list)
    use: bool = True

    @property
    def culled_for(self) -> list[str]:
        return [f.kind for f in self.flags if f.severity == "cull"]


def luma(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of 8-bit RGB as float32 (OpenCV's conversion, rounded)."""
    import cv2

    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(np.float32)


def measure(pixels: np.ndarray) -> Scores:
    """Sharpness and exposure of one 8-bit RGB image."""
    import cv2

    gray = luma(pixels)
    long_side = max(gray.shape)
    if long_side > WORK_SIZE:
        scale = WORK_SIZE / long_side
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    n = gray.size
    brightness = float(gray.mean())
    return Scores(
        sharpness=float(cv2.Laplacian(gray, cv2.CV_32F).var()),
        highlights=float(np.count_nonzero(gray >= HIGHLIGHT)) / n,
        shadows=float(np.count_nonzero(gray <= SHADOW)) / n,
        brightness=brightness,
    )


def signature(pixels: np.ndarray) -> np.ndarray:
    """A small normalised grey thumbnail: near-identical views give near-equal ones."""
    import cv2

    thumb = cv2.resize(luma(pixels), SIGNATURE_SIZE, interpolation=cv2.INTER_AREA)
    spread = float(thumb.std())
    return (thumb - thumb.mean()) / max(spread, 1.0)


def evaluate(names: list[str], scores: list[Scores], signatures: list[np.ndarray],
             cameras: list[str], sizes: list[tuple[int, int]],
             thresholds: Thresholds = Thresholds(), keep_all: bool = False
             ) -> list[ImageVerdict]:
    """Flags for every image, judged against the capture's own medians."""
    verdicts = [ImageVerdict(name) for name in names]
    if not names:
        return verdicts
    _exposure(verdicts, scores, thresholds)
    _blur(verdicts, scores, thresholds)
    _duplicates(verdicts, scores, signatures, thresholds)
    _mixed(verdicts, cameras, "mixed-camera", "camera")
    _mixed(verdicts, [f"{w}x{h}" for w, h in sizes], "mixed-size", "size")
    for v in verdicts:
        v.use = keep_all or not v.culled_for
    return verdicts


def _blur(verdicts, scores, t: Thresholds) -> None:
    median = float(np.median([s.sharpness for s in scores]))
    if median <= 0:
        return
    for v, s in zip(verdicts, scores):
        ratio = s.sharpness / median
        if ratio < t.blur_ratio and not v.flags:  # clipping explains lost detail already
            v.flags.append(Flag("blurry", "cull", f"sharpness {s.sharpness:.3g} is {ratio:.0%} "
                                                  f"of the capture's median {median:.3g}"))


def _exposure(verdicts, scores, t: Thresholds) -> None:
    for kind, attr, excess, always, what in (
        ("over-exposed", "highlights", t.highlight_excess, t.highlight_always, "blown"),
        ("under-exposed", "shadows", t.shadow_excess, t.shadow_always, "crushed to black"),
    ):
        median = float(np.median([getattr(s, attr) for s in scores]))
        for v, s in zip(verdicts, scores):
            value = getattr(s, attr)
            if value >= always or (value >= t.clip_min and value - median >= excess):
                v.flags.append(Flag(kind, "cull", f"{value:.0%} of pixels {what} "
                                                  f"(capture median {median:.0%})"))
    # an exposure jump downwards crushes little to pure black but loses the detail all the same
    median = float(np.median([s.brightness for s in scores]))
    for v, s in zip(verdicts, scores):
        stops = math.log2(median / max(s.brightness, 0.5)) if median > 0 else 0.0
        if stops >= t.dark_stops and not any(f.kind == "under-exposed" for f in v.flags):
            v.flags.append(Flag("under-exposed", "cull",
                                f"mean brightness {s.brightness:.0f} is {stops:.1f} stops below "
                                f"the capture's median {median:.0f}"))


def _duplicates(verdicts, scores, signatures, t: Thresholds) -> None:
    """Pairs that barely differ: the less sharp of each pair is culled (greedy, closest
    pairs first), so one of them always stays."""
    if len(signatures) < 2:
        return
    flat = np.stack([s.reshape(-1) for s in signatures]).astype(np.float32)
    pairs = []
    for i in range(len(flat) - 1):
        diff = np.abs(flat[i + 1:] - flat[i]).mean(axis=1)
        for j in np.flatnonzero(diff < t.duplicate_diff):
            pairs.append((float(diff[j]), i, i + 1 + int(j)))
    dropped: set[int] = set()
    for diff, i, j in sorted(pairs):
        if i in dropped or j in dropped:
            continue
        drop, keep = (i, j) if scores[i].sharpness < scores[j].sharpness else (j, i)
        dropped.add(drop)
        verdicts[drop].flags.append(Flag("duplicate", "cull",
                                         f"near-duplicate of {verdicts[keep].name} (difference "
                                         f"{diff:.3f}); the sharper one is kept"))


def _mixed(verdicts, keys: list[str], kind: str, what: str) -> None:
    counts = Counter(keys)
    if len(counts) < 2:
        return
    main, main_count = counts.most_common(1)[0]
    for v, key in zip(verdicts, keys):
        if key != main:
            v.flags.append(Flag(kind, "warn", f"{what} {key} ({counts[key]} images) differs "
                                              f"from most of the capture: {main} "
                                              f"({main_count})"))


def summary(verdicts: list[ImageVerdict]) -> dict[str, Any]:
    kinds = Counter(f.kind for v in verdicts for f in v.flags)
    return {
        "images": len(verdicts),
        "used": sum(v.use for v in verdicts),
        "culled": sum(not v.use for v in verdicts),
        "flagged": sum(bool(v.flags) for v in verdicts),
        "flags": dict(sorted(kinds.items())),
    }
