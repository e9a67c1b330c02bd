"""Quality checks before any compute: blur, exposure, near-duplicates, mixed cameras.

Per image we measure (``measure``), on the grey image at most 1024 px on its long side
so that captures of different resolutions compare:
- sharpness: variance of the Laplacian, outside flat blown regions (below);
- highlights / shadows: fraction of pixels with luma >= 250 / <= 5 (clipped);
- where the clipping is: each blown region is either flat (a compact blob with a smooth
  edge: sky, a window, a practical light, which would carry no texture unclipped either)
  or texture eaten (specks, or a ragged edge: a bright textured surface cut off where it
  crosses the clip level). ``clipped_flat`` and ``clipped_texture`` are their shares;
- detail: the share of 16x16 px cells whose unclipped pixels still vary (grey std >= 3),
  the texture SfM matches and training fits;
- a 32x24 grey signature, normalised to zero mean and unit spread, for duplicates.

Flags are relative to the capture itself (``evaluate``), because content sets the
scale: a plaster model on black velvet has half its pixels near black and is fine.
Culling is conservative and always reported: an image is culled (left out of SfM)
only for a flag of severity "cull"; "warn" flags are reported and kept. An exposure
flag culls only when too little usable texture is left (``usable``: detail in the part
of the photo that is not flat-blown, under half the capture's median); otherwise the
photo is flagged and kept.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

WORK_SIZE = 1024  # long side at which the scores are measured
SIGNATURE_SIZE = (32, 24)
HIGHLIGHT, SHADOW = 250, 5
CELL = 16  # detail is judged per CELL x CELL pixels at the work size
DETAIL_STD = 3.0  # grey levels: a cell whose usable pixels vary less carries no texture
EDGE = 2  # pixels: a blown pixel this close to an unblown one lies on its region's edge
SMALL_BLOWN = 64  # pixels: blown regions smaller than this are specks of clipped texture
# A blown region's edge band against that of a disk of the same area: skies with trees
# and ornate skylines reach 3.3, clipped facades 7 and more.
RAGGED_EDGE = 4.0


@dataclass(frozen=True)
class Thresholds:
    blur_ratio: float = 0.25  # sharpness below this fraction of the capture's median
    texture_clip_min: float = 0.05  # share of the photo whose texture clipping ate ...
    texture_clip_excess: float = 0.05  # ... at least, and this far above the median
    clip_min: float = 0.10  # crushed shadows must be at least this to matter ...
    shadow_excess: float = 0.25  # ... and this far above the capture's median ...
    shadow_always: float = 0.90  # ... or this large whatever the rest do
    dark_stops: float = 2.0  # mean brightness this many stops below the capture's median
    # an exposure flag culls when the usable detail is under this share of the median
    detail_ratio: float = 0.5
    duplicate_diff: float = 0.06  # mean |a - b| of normalised signatures


@dataclass
class Scores:
    sharpness: float
    highlights: float
    shadows: float
    brightness: float  # mean luma, 0..255
    clipped_texture: float = 0.0  # share of pixels blown in specks or ragged regions
    clipped_flat: float = 0.0  # share of pixels blown in compact, smooth-edged regions
    detail: float = 0.0  # share of cells that carry texture

    @property
    def usable(self) -> float:
        """Detail in the part of the photo that is not flat-blown (a sky takes away
        nothing that was there to match)."""
        rest = 1.0 - self.clipped_flat
        return self.detail / rest if rest >= 0.05 else 0.0

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Scores | None:
        """Stored scores, or None when they were written before a score existed."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: data[k] for k in names}) if names <= set(data) else None


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
    """Sharpness, exposure and detail of one 8-bit RGB image."""
    import cv2

    gray = luma(pixels)
    long_side = max(gray.shape)
    if long_side > WORK_SIZE:
        scale = WORK_SIZE / long_side
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    blown, crushed = gray >= HIGHLIGHT, gray <= SHADOW
    flat_blown = _flat_blown(blown)
    texture = float(blown.mean() - flat_blown.mean())
    laplacian = cv2.Laplacian(gray, cv2.CV_32F)
    # a sky is no blur: sharpness is measured where the photo is not flat-blown
    seen = laplacian[~flat_blown] if 0 < flat_blown.mean() < 0.95 else laplacian
    return Scores(
        sharpness=float(seen.var()),
        highlights=float(blown.mean()),
        shadows=float(crushed.mean()),
        brightness=float(gray.mean()),
        clipped_texture=texture,
        clipped_flat=float(flat_blown.mean()),
        detail=_detail(gray, blown | crushed),
    )


def _flat_blown(blown: np.ndarray) -> np.ndarray:
    """The blown pixels that lie in flat regions; the rest of ``blown`` ate texture.

    A region ate texture when it is a speck or its edge band (blown pixels within EDGE of
    an unblown one) is RAGGED_EDGE times what a disk of its area would have: clipping
    that follows texture leaves a frayed outline, a sky or a lamp a clean one."""
    import cv2

    if not blown.any():
        return blown
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blown.astype(np.uint8),
                                                               connectivity=8)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EDGE + 1, 2 * EDGE + 1))
    edge = blown & (cv2.dilate((~blown).astype(np.uint8), disk) > 0)
    edge_pixels = np.bincount(labels[edge], minlength=count)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    radius = np.sqrt(area / np.pi)
    disk_edge = area * (1 - np.clip(1 - EDGE / np.maximum(radius, 1e-9), 0, 1) ** 2)
    flat = (area >= SMALL_BLOWN) & (edge_pixels <= RAGGED_EDGE * disk_edge)
    flat[0] = False  # the background label: everything not blown
    return flat[labels]


def _detail(gray: np.ndarray, clipped: np.ndarray) -> float:
    """Share of CELL x CELL cells (three quarters unclipped) whose unclipped pixels vary."""
    import cv2

    rows, cols = gray.shape[0] // CELL, gray.shape[1] // CELL
    if rows == 0 or cols == 0:
        return 0.0
    good = (~clipped[:rows * CELL, :cols * CELL]).astype(np.float32)
    kept = gray[:rows * CELL, :cols * CELL] * good

    def per_cell(a: np.ndarray) -> np.ndarray:  # a box average over each whole cell
        return cv2.resize(a, (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float64)

    share = per_cell(good)
    mean = per_cell(kept) / np.maximum(share, 1e-6)
    var = per_cell(kept * gray[:rows * CELL, :cols * CELL]) / np.maximum(share, 1e-6) - mean ** 2
    textured = (share >= 0.75) & (var >= DETAIL_STD ** 2)
    return float(textured.mean())


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
        if ratio < t.blur_ratio and not v.culled_for:  # exposure explains lost detail
            v.flags.append(Flag("blurry", "cull", f"sharpness {s.sharpness:.3g} is {ratio:.0%} "
                                                  f"of the capture's median {median:.3g}"))


def _exposure(verdicts, scores, t: Thresholds) -> None:
    """Over-exposed: clipping ate texture, or the photo is blown with little detail left.
    Under-exposed: crushed shadows, or a jump in brightness down. Either culls only when
    the usable detail left is under ``detail_ratio`` of the capture's median."""
    usable = float(np.median([s.usable for s in scores]))

    def flag(v: ImageVerdict, s: Scores, kind: str, reason: str) -> None:
        if s.usable < t.detail_ratio * usable:
            v.flags.append(Flag(kind, "cull", f"{reason}; only {s.usable:.0%} of what is not "
                                              f"flat-blown carries detail (capture median "
                                              f"{usable:.0%})"))
        else:
            v.flags.append(Flag(kind, "warn", f"{reason}; kept: {s.usable:.0%} of it still "
                                              f"carries detail (capture median {usable:.0%})"))

    eaten = float(np.median([s.clipped_texture for s in scores]))
    for v, s in zip(verdicts, scores):
        if (s.clipped_texture >= t.texture_clip_min
                and s.clipped_texture - eaten >= t.texture_clip_excess) or (
                s.highlights >= t.clip_min and s.usable < t.detail_ratio * usable):
            flag(v, s, "over-exposed", f"{s.highlights:.0%} of pixels blown, "
                                       f"{s.clipped_texture:.0%} over texture (capture median "
                                       f"{eaten:.0%})")
    crushed = float(np.median([s.shadows for s in scores]))
    brightness = float(np.median([s.brightness for s in scores]))
    for v, s in zip(verdicts, scores):
        # an exposure jump downwards crushes little to pure black but loses detail as well
        stops = math.log2(brightness / max(s.brightness, 0.5)) if brightness > 0 else 0.0
        if s.shadows >= t.shadow_always or (s.shadows >= t.clip_min
                                            and s.shadows - crushed >= t.shadow_excess):
            flag(v, s, "under-exposed", f"{s.shadows:.0%} of pixels crushed to black "
                                        f"(capture median {crushed:.0%})")
        elif stops >= t.dark_stops:
            flag(v, s, "under-exposed", f"mean brightness {s.brightness:.0f} is {stops:.1f} "
                                        f"stops below the capture's median {brightness:.0f}")


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
