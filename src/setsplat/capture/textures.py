"""Procedural textures for the synthetic stage: noise, patterns and printed text.

Made from numpy's PCG64 stream, elementwise float arithmetic (no transcendental
functions, no BLAS) and Pillow's text rasteriser, so a seed gives the same texels on
every run. Detail is mid-frequency on purpose: SIFT needs blobs and corners everywhere,
and a splat model must still be able to fit the images.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

Color = Sequence[float]

WORDS = ("SCENE", "TAKE", "PROPS", "STAGE", "LIGHTS", "CAMERA", "ROLL", "QUIET", "SOUND",
         "GRIP", "DOLLY", "WARDROBE", "SET", "EXIT", "FRAGILE", "CUT", "MARK", "FOCUS",
         "SLATE", "CREW", "HAIR", "MAKEUP", "ACTION", "WRAP", "UNIT", "BOOM", "C-STAND")


def rng_for(seed: int, name: str) -> np.random.Generator:
    """An independent, stable random stream per texture (crc32, not Python's salted hash)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def value_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth noise in [0, 1] with features about ``cell`` texels across."""
    grid = rng.random((int(height / cell) + 2, int(width / cell) + 2), dtype=np.float32)
    ys, xs = _lattice(height, cell), _lattice(width, cell)
    rows = grid[:, xs[0]] * (1 - xs[1]) + grid[:, xs[0] + 1] * xs[1]
    return rows[ys[0]] * (1 - ys[1])[:, None] + rows[ys[0] + 1] * ys[1][:, None]


def _lattice(n: int, cell: float) -> tuple[np.ndarray, np.ndarray]:
    pos = np.arange(n, dtype=np.float32) / np.float32(cell)
    index = np.floor(pos)
    frac = pos - index
    return index.astype(np.int64), frac * frac * (3 - 2 * frac)


def fbm(rng: np.random.Generator, height: int, width: int, cell: float,
        octaves: int = 4) -> np.ndarray:
    """Fractal noise in [0, 1]: octaves of value noise, each half the size and weight."""
    total = np.zeros((height, width), np.float32)
    weight, norm = 1.0, 0.0
    for _ in range(octaves):
        total += np.float32(weight) * value_noise(rng, height, width, max(cell, 2.0))
        norm += weight
        cell, weight = cell / 2, weight / 2
    return total / np.float32(norm)


def mix(t: np.ndarray, low: Color, high: Color) -> np.ndarray:
    """Color ramp: t (H, W) in [0, 1] -> (H, W, 3) between two colors."""
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    return low + t[..., None] * (high - low)


def contrast(t: np.ndarray, amount: float) -> np.ndarray:
    """Stretch noise around 0.5 and clip, for crisper blobs."""
    return np.clip(0.5 + (t - 0.5) * np.float32(amount), 0, 1)


def random_color(rng: np.random.Generator, low: float = 0.15, high: float = 0.85) -> tuple:
    return tuple(float(v) for v in rng.uniform(low, high, 3))


@lru_cache(maxsize=64)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


class Sheet:
    """A texture being painted: float RGB texels plus Pillow drawing in metres.

    Texel (0, 0) is the sheet's top-left corner; ``density`` is texels per metre.
    """

    def __init__(self, width_m: float, height_m: float, density: float, base: np.ndarray):
        self.density = density
        self.width = max(2, round(width_m * density))
        self.height = max(2, round(height_m * density))
        if base.shape[:2] != (self.height, self.width):
            raise ValueError("base texture has the wrong size")
        self._pixels = base.astype(np.float32)
        self._image = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def size_m(self) -> tuple[float, float]:
        return self.width / self.density, self.height / self.density

    def px(self, metres: float) -> int:
        return round(metres * self.density)

    def _draw(self):
        from PIL import Image, ImageDraw

        if self._image is None:
            self._image = Image.fromarray(_to_bytes(self._pixels))
        return ImageDraw.Draw(self._image)

    def rect(self, x: float, y: float, w: float, h: float, color: Color) -> None:
        self._draw().rectangle([self.px(x), self.px(y), self.px(x + w) - 1,
                                self.px(y + h) - 1], fill=_rgb(color))

    def ellipse(self, x: float, y: float, w: float, h: float, color: Color) -> None:
        self._draw().ellipse([self.px(x), self.px(y), self.px(x + w), self.px(y + h)],
                             fill=_rgb(color))

    def polygon(self, points: Sequence[tuple[float, float]], color: Color) -> None:
        self._draw().polygon([(self.px(x), self.px(y)) for x, y in points], fill=_rgb(color))

    def text(self, x: float, y: float, text: str, height: float, color: Color,
             anchor: str = "mm") -> None:
        """Printed text with its cap height about ``height`` metres, anchored at (x, y)."""
        size = max(8, round(height * self.density * 1.35))
        self._draw().text((self.px(x), self.px(y)), text, font=_font(size), fill=_rgb(color),
                          anchor=anchor)

    def blend(self, layer: np.ndarray, alpha: np.ndarray) -> None:
        """Composite a numpy layer (H, W, 3) with per-texel alpha (H, W)."""
        pixels = self.pixels()
        a = alpha[..., None].astype(np.float32)
        self._pixels = pixels * (1 - a) + layer * a

    def pixels(self) -> np.ndarray:
        if self._image is not None:
            self._pixels = np.asarray(self._image, np.float32) * np.float32(1 / 255)
            self._image = None
        return self._pixels

    def finish(self) -> np.ndarray:
        return self.pixels()


def _to_bytes(pixels: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)


def _rgb(color: Color) -> tuple[int, int, int]:
    return tuple(int(np.floor(float(c) * 255 + 0.5)) for c in color)  # type: ignore[return-value]


# ----- materials: a base texture for a surface of a given size --------------------------
def plaster(rng: np.random.Generator, shape: tuple[int, int], density: float,
            low: Color, high: Color) -> np.ndarray:
    """Painted plaster with stains: blobs from a few centimetres to half a metre."""
    h, w = shape
    t = contrast(fbm(rng, h, w, 0.45 * density, octaves=5), 2.2)
    grit = contrast(fbm(rng, h, w, 0.05 * density, octaves=2), 2.0) - np.float32(0.5)
    speckle = contrast(value_noise(rng, h, w, 0.012 * density), 3.0) - np.float32(0.5)
    grain = np.float32(0.35) * grit + np.float32(0.18) * speckle
    return np.clip(mix(t, low, high) * (1 + grain[..., None]), 0, 1)


def planks(rng: np.random.Generator, shape: tuple[int, int], density: float,
           width_m: float, tint: Color, vertical: bool = False) -> np.ndarray:
    """Wood boards ``width_m`` wide with per-board tint, grain and dark joints."""
    h, w = shape if not vertical else shape[::-1]
    grain = value_noise(rng, h, w, 0.03 * density) * 0.5 + fbm(rng, h, w, 0.25 * density) * 0.5
    grain = grain * 0.6 + 0.4 * value_noise(rng, h, w, 0.012 * density)
    board = np.arange(h) // max(2, round(width_m * density))
    shade = rng.uniform(0.65, 1.15, int(board.max()) + 1).astype(np.float32)[board]
    base = np.asarray(tint, np.float32)
    out = base * (0.55 + 0.6 * grain[..., None]) * shade[:, None, None]
    # staggered butt joints along each board
    joint_px = max(2, round(0.008 * density))
    seam = (np.arange(h) % max(2, round(width_m * density))) < joint_px
    out[seam] *= 0.5
    lengths = rng.uniform(0.9, 2.2, int(board.max()) + 1)
    offsets = rng.uniform(0, 2.2, int(board.max()) + 1)
    cols = np.arange(w) / density
    for row_board in range(int(board.max()) + 1):
        rows = board == row_board
        cut = ((cols + offsets[row_board]) % lengths[row_board]) * density < joint_px
        out[np.ix_(rows, cut)] *= 0.5
    out = np.clip(out, 0, 1)
    return out.transpose(1, 0, 2) if vertical else out


def bricks(rng: np.random.Generator, shape: tuple[int, int], density: float,
           tint: Color) -> np.ndarray:
    """Running-bond brickwork: each brick its own color, mortar joints, surface noise."""
    h, w = shape
    bh, bw, mortar = 0.075 * density, 0.225 * density, max(2.0, 0.012 * density)
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    row = np.floor(y / bh)
    xs = x + (row % 2) * bw / 2
    col = np.floor(xs / bw)
    brick_id = (row * 1000 + col).astype(np.int64)
    _, inverse = np.unique(brick_id, return_inverse=True)
    palette = rng.uniform(0.7, 1.25, (int(inverse.max()) + 1, 3)).astype(np.float32)
    palette *= rng.uniform(0.8, 1.1, (int(inverse.max()) + 1, 1)).astype(np.float32)
    color = np.asarray(tint, np.float32) * palette[inverse.reshape(h, w)]
    noise = fbm(rng, h, w, 0.06 * density, octaves=3)
    color = color * (0.75 + 0.5 * noise[..., None])
    joint = ((y % bh) < mortar) | ((xs % bw) < mortar)
    color[np.broadcast_to(joint, (h, w))] = (0.72, 0.70, 0.66)
    return np.clip(color, 0, 1)


def tiles(rng: np.random.Generator, shape: tuple[int, int], density: float, size_m: float,
          low: Color, high: Color) -> np.ndarray:
    """Square tiles of ``size_m`` with per-tile noise and grout lines."""
    h, w = shape
    t = contrast(fbm(rng, h, w, 0.2 * density, octaves=4), 1.8)
    color = mix(t, low, high)
    step = max(4, round(size_m * density))
    grout = max(2, round(0.01 * density))
    y, x = np.arange(h)[:, None], np.arange(w)[None, :]
    tile = (y // step) * 997 + (x // step)
    gain = rng.uniform(0.8, 1.15, int(tile.max()) + 1).astype(np.float32)[tile]
    color = color * gain[..., None]
    color[np.broadcast_to(((y % step) < grout) | ((x % step) < grout), (h, w))] = (0.3, 0.3,
                                                                                   0.32)
    return np.clip(color, 0, 1)


def cardboard(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    h, w = shape
    t = contrast(fbm(rng, h, w, 0.12 * density, octaves=4), 1.6)
    tint = rng.uniform(0.85, 1.1)
    return np.clip(mix(t, (0.45 * tint, 0.32 * tint, 0.18), (0.78, 0.60, 0.38)), 0, 1)


# ----- decorations painted on top --------------------------------------------------------
def poster(sheet: Sheet, rng: np.random.Generator, x: float, y: float, w: float,
           h: float) -> None:
    """A poster: a colored panel, a few bold shapes, a title and small print."""
    sheet.rect(x, y, w, h, random_color(rng, 0.55, 0.95))
    for _ in range(int(rng.integers(3, 7))):
        sx, sy = x + rng.uniform(0.05, 0.7) * w, y + rng.uniform(0.25, 0.75) * h
        size = rng.uniform(0.12, 0.3) * min(w, h)
        color = random_color(rng, 0.05, 0.8)
        kind = int(rng.integers(3))
        if kind == 0:
            sheet.ellipse(sx, sy, size, size, color)
        elif kind == 1:
            sheet.rect(sx, sy, size, size * rng.uniform(0.5, 1.5), color)
        else:
            sheet.polygon([(sx, sy + size), (sx + size / 2, sy), (sx + size, sy + size)], color)
    ink = random_color(rng, 0.0, 0.3)
    sheet.text(x + w / 2, y + 0.12 * h, str(rng.choice(WORDS)), 0.08 * h, ink)
    for i in range(3):
        words = " ".join(str(v) for v in rng.choice(WORDS, 2)) + f" {int(rng.integers(100))}"
        sheet.text(x + w / 2, y + (0.8 + 0.06 * i) * h, words, 0.028 * h, ink)


def scatter(sheet: Sheet, rng: np.random.Generator, per_m2: float, size: tuple[float, float],
            region: tuple[float, float, float, float] | None = None) -> None:
    """Confetti of small circles, squares and triangles in random colors (no repeats)."""
    x0, y0, w, h = region or (0.0, 0.0, *sheet.size_m)
    for _ in range(int(w * h * per_m2)):
        x, y, s = x0 + rng.uniform(0, w), y0 + rng.uniform(0, h), rng.uniform(*size)
        color = random_color(rng, 0.15, 0.9)
        kind = rng.random()
        if kind < 0.4:
            sheet.ellipse(x, y, s, s, color)
        elif kind < 0.8:
            sheet.rect(x, y, s, s * rng.uniform(0.5, 1.5), color)
        else:
            sheet.polygon([(x, y + s), (x + s / 2, y), (x + s, y + s)], color)


def notes(sheet: Sheet, rng: np.random.Generator, count: int, region: tuple) -> None:
    """Pinned paper notes with a few lines of small print."""
    x0, y0, w, h = region
    for _ in range(count):
        x, y = x0 + rng.uniform(0, w - 0.25), y0 + rng.uniform(0, h - 0.3)
        sheet.rect(x, y, 0.21, 0.28, random_color(rng, 0.8, 0.98))
        sheet.ellipse(x + 0.095, y + 0.01, 0.02, 0.02, random_color(rng, 0.1, 0.8))
        for k in range(5):
            sheet.text(x + 0.02, y + 0.06 + 0.045 * k, str(rng.choice(WORDS)), 0.018,
                       (0.1, 0.1, 0.2), anchor="lm")


def sign(sheet: Sheet, x: float, y: float, text: str, height: float, paper: Color,
         ink: Color) -> None:
    """A printed sign: a panel just larger than its text."""
    w = height * 0.75 * len(text) + height
    sheet.rect(x - w / 2, y - height, w, 2 * height, paper)
    sheet.text(x, y, text, height, ink)


def spike_marks(sheet: Sheet, rng: np.random.Generator, count: int,
                avoid: Sequence[tuple[float, float, float, float]] = ()) -> None:
    """Colored tape crosses and Ts with numbers, as on a stage floor."""
    wm, hm = sheet.size_m
    tape = 0.025
    placed = 0
    while placed < count:
        x, y = rng.uniform(0.2, wm - 0.2), rng.uniform(0.2, hm - 0.2)
        if any(ax - 0.2 <= x <= ax + aw + 0.2 and ay - 0.2 <= y <= ay + ah + 0.2
               for ax, ay, aw, ah in avoid):
            continue
        color = random_color(rng, 0.1, 0.95)
        arm = rng.uniform(0.08, 0.16)
        sheet.rect(x - arm, y - tape / 2, 2 * arm, tape, color)
        sheet.rect(x - tape / 2, y - arm * rng.choice([0.0, 1.0]), tape,
                   arm * (1 + rng.choice([0.0, 1.0])), color)
        sheet.text(x + arm * 0.9, y + arm * 0.5, str(int(rng.integers(1, 99))), 0.04, color)
        placed += 1


def splotches(sheet: Sheet, rng: np.random.Generator, color: Color, coverage: float,
              cell_m: float) -> None:
    """Paint blobs (thresholded noise) covering about ``coverage`` of the sheet."""
    h, w = sheet.shape
    noise = fbm(rng, h, w, cell_m * sheet.density, octaves=3)
    cut = np.float32(np.quantile(noise, 1 - coverage))
    alpha = np.clip((noise - cut) * np.float32(25), 0, 1)
    sheet.blend(np.broadcast_to(np.asarray(color, np.float32), (h, w, 3)), alpha)
