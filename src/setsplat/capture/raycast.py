"""A small ray caster for boxes: the synthetic stage's renderer.

Boxes turn only about the vertical (y) axis. A solid box shows its outside; an
"inside" box (a room) shows the far side of its walls, and may have holes (a doorway).
Each face carries a texture sampled with trilinear mip-mapping and a view-independent
shading factor, so images are purely diffuse. Only elementwise IEEE arithmetic is
used per pixel (no BLAS, no transcendental functions), which keeps renders
bit-identical from run to run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


class MipTexture:
    """A texture and its box-filtered pyramid; texel (0, 0) at the face's u=0, v=0."""

    def __init__(self, texels: np.ndarray, density: float):
        self.density = float(density)
        levels = [np.ascontiguousarray(texels, dtype=np.float32)]
        while min(levels[-1].shape[:2]) >= 4:
            t = levels[-1]
            h, w = (t.shape[0] // 2) * 2, (t.shape[1] // 2) * 2
            t = t[:h, :w]
            levels.append((t[0::2, 0::2] + t[1::2, 0::2] + t[0::2, 1::2] + t[1::2, 1::2])
                          * np.float32(0.25))
        self.levels = levels

    def sample(self, u: np.ndarray, v: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """Colors (N, 3) at face coordinates u, v (metres); ``footprint`` is the size of
        the area a sample stands for, in metres."""
        level = np.clip(_log2(footprint * np.float32(self.density)), 0, len(self.levels) - 1)
        low = np.floor(level).astype(np.int64)
        frac = (level - low).astype(np.float32)
        out = np.empty((u.shape[0], 3), np.float32)
        for lv in np.flatnonzero(np.bincount(low, minlength=len(self.levels))):
            sel = low == lv
            a = self._bilinear(int(lv), u[sel], v[sel])
            if lv + 1 < len(self.levels):
                b = self._bilinear(int(lv) + 1, u[sel], v[sel])
                f = frac[sel][:, None]
                a = a * (1 - f) + b * f
            out[sel] = a
        return out

    def _bilinear(self, level: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        tex = self.levels[level]
        h, w = tex.shape[:2]
        scale = np.float32(self.density / (1 << level))
        x = u * scale - np.float32(0.5)
        y = v * scale - np.float32(0.5)
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = (x - x0)[:, None], (y - y0)[:, None]
        x0i, y0i = x0.astype(np.int64), y0.astype(np.int64)
        xa, xb = np.clip(x0i, 0, w - 1), np.clip(x0i + 1, 0, w - 1)
        ya, yb = np.clip(y0i, 0, h - 1), np.clip(y0i + 1, 0, h - 1)
        flat = tex.reshape(-1, 3)
        ya, yb = ya * w, yb * w
        top = np.take(flat, ya + xa, 0) * (1 - fx) + np.take(flat, ya + xb, 0) * fx
        bottom = np.take(flat, yb + xa, 0) * (1 - fx) + np.take(flat, yb + xb, 0) * fx
        return top * (1 - fy) + bottom * fy


def _log2(x: np.ndarray) -> np.ndarray:
    """log2 from the float's exponent and a linear mantissa: exact arithmetic only."""
    mantissa, exponent = np.frexp(np.maximum(x, np.float32(1e-30)))
    return (exponent - 1).astype(np.float32) + (mantissa - np.float32(0.5)) * np.float32(2)


@dataclass
class Box:
    """An oriented box: centre, half sizes, yaw in radians given as (cos, sin)."""

    name: str
    center: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw_cos_sin: tuple[float, float] = (1.0, 0.0)
    inside: bool = False
    textures: dict[int, MipTexture] = field(default_factory=dict)
    shading: dict[int, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)
    holes: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    seen_through: list[tuple[float, float, float]] | None = None  # e.g. a doorway's corners

    # ----- geometry --------------------------------------------------------------------
    def to_local(self, p: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (x, y, z arrays) -> box coordinates."""
        c, s = (np.float32(v) for v in self.yaw_cos_sin)
        x, y, z = (p[k] - np.float32(self.center[k]) for k in range(3))
        return c * x - s * z, y, s * x + c * z

    def direction_to_local(self, d: Sequence[np.ndarray]):
        c, s = (np.float32(v) for v in self.yaw_cos_sin)
        return c * d[0] - s * d[2], d[1], s * d[0] + c * d[2]

    def normal_world(self, face: int) -> tuple[float, float, float]:
        """``face`` = 2 * axis + (0 for the -half side, 1 for the +half side)."""
        axis, sign = divmod(face, 2)
        n = [0.0, 0.0, 0.0]
        n[axis] = 1.0 if sign else -1.0
        if self.inside:
            n = [-v for v in n]
        c, s = self.yaw_cos_sin
        return (c * n[0] + s * n[2], n[1], -s * n[0] + c * n[2])

    def face_axes(self, face: int) -> tuple[int, float, int, float]:
        """Which local axes give the face's texture (u, v) and with which sign: u runs to
        the viewer's right and v downwards, so printed text reads correctly."""
        axis, plus = divmod(face, 2)
        if axis == 1:  # horizontal: seen from above, u = +x and v = -z
            from_above = (not plus) != self.inside
            return 0, 1.0, 2, -1.0 if from_above else 1.0
        # vertical: v = +y (down); u = viewer's right for a viewer outside (or inside)
        outward = 1.0 if plus else -1.0
        if self.inside:
            outward = -outward
        # right = down x forward with forward = -normal: for normal +x right is +z, ...
        if axis == 0:
            return 2, outward, 1, 1.0
        return 0, -outward, 1, 1.0

    def face_uv(self, face: int, local: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        ua, us, va, vs = self.face_axes(face)
        return (local[ua] * np.float32(us) + np.float32(self.half[ua]),
                local[va] * np.float32(vs) + np.float32(self.half[va]))

    def face_size(self, face: int) -> tuple[float, float]:
        ua, _, va, _ = self.face_axes(face)
        return 2 * self.half[ua], 2 * self.half[va]

    def corners(self) -> list[tuple[float, float, float]]:
        """The eight corners in world coordinates."""
        c, s = self.yaw_cos_sin
        hx, hy, hz = self.half
        return [(self.center[0] + c * x + s * z, self.center[1] + y,
                 self.center[2] - s * x + c * z)
                for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)]

    def _slabs(self, origin, d_local):
        o = self.to_local([np.float32(v) for v in origin])
        lo_t, hi_t = [], []
        for axis in range(3):
            dk = d_local[axis]
            inv = np.float32(1) / np.where(dk == 0, np.float32(1e-12), dk)
            h = np.float32(self.half[axis])
            t1 = (-h - o[axis]) * inv
            t2 = (h - o[axis]) * inv
            lo_t.append(np.minimum(t1, t2))
            hi_t.append(np.maximum(t1, t2))
        return lo_t, hi_t

    def intersect(self, origin: Sequence[float], d: Sequence[np.ndarray]) -> np.ndarray:
        """Ray parameter of the visible hit, inf where the ray misses."""
        d_local = self.direction_to_local(d)
        lo_t, hi_t = self._slabs(origin, d_local)
        t_near = np.maximum(np.maximum(lo_t[0], lo_t[1]), lo_t[2])
        t_far = np.minimum(np.minimum(hi_t[0], hi_t[1]), hi_t[2])
        t = t_far if self.inside else t_near
        t = np.where((t_near <= t_far) & (t > np.float32(1e-4)), t, np.float32(np.inf))
        if self.holes:
            t = self._punch_holes(t, origin, d_local)
        return t

    def faces_hit(self, origin: Sequence[float], d: Sequence[np.ndarray]) -> np.ndarray:
        """Which face each ray (known to hit this box) hits."""
        return self._faces_local(origin, self.direction_to_local(d))

    def _faces_local(self, origin, d_local):
        lo_t, hi_t = self._slabs(origin, d_local)
        if self.inside:
            b0, b1, b2 = hi_t
            pick = np.where((b0 <= b1) & (b0 <= b2), 0, np.where(b1 <= b2, 1, 2))
        else:
            b0, b1, b2 = lo_t
            pick = np.where((b0 >= b1) & (b0 >= b2), 0, np.where(b1 >= b2, 1, 2))
        d_axis = np.where(pick == 0, d_local[0], np.where(pick == 1, d_local[1], d_local[2]))
        plus = (d_axis > 0) if self.inside else (d_axis < 0)
        return pick * 2 + plus

    def _punch_holes(self, t, origin, d_local):
        o = self.to_local([np.float32(v) for v in origin])
        flat = t.reshape(-1)
        idx = np.flatnonzero(np.isfinite(flat))
        d_hit = [np.broadcast_to(dk, t.shape).reshape(-1)[idx] for dk in d_local]
        face = self._faces_local(origin, d_hit)
        for hole_face, u0, u1, v0, v1 in self.holes:
            on = face == hole_face
            sub = idx[on]
            local = [o[k] + d_hit[k][on] * flat[sub] for k in range(3)]
            u, v = self.face_uv(hole_face, local)
            flat[sub[(u > u0) & (u < u1) & (v > v0) & (v < v1)]] = np.inf
        return flat.reshape(t.shape)


@dataclass
class View:
    """A pinhole camera's rays on a ``supersample``-times finer grid (pixel centres at
    integer coordinates, as in OpenCV). Directions are unnormalised with camera-z 1, so a
    hit's ray parameter is its depth."""

    rotation: list[list[float]]  # rows: camera axes in world coordinates
    center: tuple[float, float, float]
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    supersample: int

    def sample_coords(self, n: int) -> np.ndarray:
        ss = self.supersample
        offsets = (np.arange(ss, dtype=np.float32) + np.float32(0.5)) / np.float32(ss)
        return (np.arange(n, dtype=np.float32)[:, None] + offsets).reshape(-1)

    def directions(self, rows: slice, cols: slice) -> tuple[np.ndarray, ...]:
        a = ((self.sample_coords(self.width)[cols] - np.float32(self.cx))
             / np.float32(self.fx))[None, :]
        b = ((self.sample_coords(self.height)[rows] - np.float32(self.cy))
             / np.float32(self.fy))[:, None]
        r = [[np.float32(v) for v in row] for row in self.rotation]
        return tuple(a * r[0][k] + b * r[1][k] + r[2][k] for k in range(3))

    def window(self, points: Sequence[Sequence[float]]) -> tuple[slice, slice]:
        """Sample rows and columns that can see ``points``' hull (all, if any is behind)."""
        ss = self.supersample
        full = (slice(0, self.height * ss), slice(0, self.width * ss))
        us, vs = [], []
        for p in points:
            rel = [p[k] - self.center[k] for k in range(3)]
            x, y, z = (sum(self.rotation[r][k] * rel[k] for k in range(3)) for r in range(3))
            if z < 0.05:
                return full
            us.append(self.fx * x / z + self.cx)
            vs.append(self.fy * y / z + self.cy)

        def span(lo: float, hi: float, n: int) -> slice:
            start = max(0, math.floor(lo * ss) - 2)
            return slice(min(start, n * ss), max(start, min(n * ss, math.ceil(hi * ss) + 2)))

        return span(min(vs), max(vs), self.height), span(min(us), max(us), self.width)


def nearest(boxes: Sequence[Box], view: View) -> tuple[np.ndarray, np.ndarray]:
    """Per sample (H*ss, W*ss): the depth of the nearest hit (inf: none) and the index of
    the box hit (-1: none)."""
    shape = (view.height * view.supersample, view.width * view.supersample)
    best_t = np.full(shape, np.inf, np.float32)
    best_box = np.full(shape, -1, np.int16)
    for index, box in enumerate(boxes):
        rows, cols = view.window(box.seen_through or box.corners())
        if rows.start == rows.stop or cols.start == cols.stop:
            continue
        t = box.intersect(view.center, view.directions(rows, cols))
        region = best_t[rows, cols]
        closer = t < region
        region[closer] = t[closer]
        best_box[rows, cols][closer] = index
    return best_t, best_box


def render(boxes: Sequence[Box], view: View, background: float = 0.0) -> np.ndarray:
    """Colors (H*ss, W*ss, 3) of the nearest hit along each sample ray."""
    shape = (view.height * view.supersample, view.width * view.supersample)
    best_t, best_box = nearest(boxes, view)
    d = [dk.reshape(-1) for dk in view.directions(slice(None), slice(None))]
    best_t, best_box = best_t.reshape(-1), best_box.reshape(-1)
    out = np.full((best_t.size, 3), np.float32(background), np.float32)
    sample_size = np.float32(1 / (view.fx * view.supersample))
    for index, box in enumerate(boxes):
        on_box = np.flatnonzero(best_box == index)
        if on_box.size == 0:
            continue
        faces = box.faces_hit(view.center, [dk[on_box] for dk in d])
        for face in np.flatnonzero(np.bincount(faces, minlength=6)):
            idx = on_box[faces == face]
            out[idx] = _shade(box, int(face), view.center, [dk[idx] for dk in d], best_t[idx],
                              sample_size)
    return out.reshape(*shape, 3)


def _shade(box: Box, face: int, origin, d, t, sample_size) -> np.ndarray:
    """Texture color times lighting at the hits of rays ``d`` on one face."""
    world = [np.float32(origin[k]) + d[k] * t for k in range(3)]
    u, v = box.face_uv(face, box.to_local(world))
    nx, ny, nz = (np.float32(c) for c in box.normal_world(face))
    length = np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
    cos_in = np.abs(d[0] * nx + d[1] * ny + d[2] * nz) / length
    # a sample's footprint: its spacing at that depth, stretched (half-way, in log terms)
    # at grazing angles, which keeps the floor from aliasing without smearing it
    stretch = np.minimum(np.float32(1) / np.maximum(cos_in, np.float32(1e-3)), np.float32(8))
    footprint = t * length * sample_size * np.sqrt(stretch)
    color = box.textures[face].sample(u, v, footprint)
    if face in box.shading:
        color = color * box.shading[face](np.stack(world, -1))[:, None]
    return color
