"""The synthetic film set: a room with a doorway, a table, crates and markers.

World frame RDF in metres (x right, y DOWN, z forward): the floor is the plane y = 0
with normal -y, the ceiling is at y = -2.7. Every surface gets its own procedural
texture from the seed; lighting is a fixed key light plus a soft ceiling lamp, baked
per surface point (view-independent).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from setsplat.capture import textures as tx
from setsplat.capture.raycast import Box, MipTexture

ROOM_HALF = (3.0, 1.35, 2.5)  # a 6 m x 2.7 m x 5 m room centred on (0, -1.35, 0)
ROOM_CENTER = (0.0, -1.35, 0.0)
DOOR_X = (0.9, 1.9)  # doorway in the back wall (z = +2.5), 2.1 m high
DOOR_TOP = -2.1
HALL = {"center": (1.4, -1.2, 3.5), "half": (1.1, 1.2, 1.0)}
LAMP = (0.3, -2.5, 0.0)
KEY_LIGHT = (0.45, -0.8, -0.4)  # direction towards the light (normalised below)

FLOOR_DENSITY = 300  # texels per metre; markers are laid on whole texels
MARKER_STEP = 6 / FLOOR_DENSITY  # a marker's side must be whole multiples of this
MARKER_DICTIONARY = "DICT_4X4_50"


@dataclass
class Marker:
    id: int
    corners: list[list[float]]  # world, cv2.aruco order: TL, TR, BR, BL of the marker image


@dataclass
class StageSet:
    boxes: list[Box]
    markers: list[Marker] = field(default_factory=list)
    marker_size: float | None = None

    @property
    def bounds(self) -> tuple[list[float], list[float]]:
        lo = np.array([-ROOM_HALF[0], -2 * ROOM_HALF[1], -ROOM_HALF[2]])
        hi = np.array([ROOM_HALF[0], 0.0, ROOM_HALF[2]])
        hall_c, hall_h = np.array(HALL["center"]), np.array(HALL["half"])
        return (np.minimum(lo, hall_c - hall_h).tolist(),
                np.maximum(hi, hall_c + hall_h).tolist())


# ----- lighting -----------------------------------------------------------------------
def _shader(normal: tuple[float, float, float]) -> Callable[[np.ndarray], np.ndarray]:
    """Lambert key light (a constant per face) times a soft lamp falloff (1 / (1 + r²))."""
    k = np.array(KEY_LIGHT) / math.sqrt(sum(v * v for v in KEY_LIGHT))
    lambert = max(0.0, normal[0] * k[0] + normal[1] * k[1] + normal[2] * k[2])
    face = np.float32(0.50 + 0.22 * lambert)
    lamp = [np.float32(v) for v in LAMP]

    def shade(points: np.ndarray) -> np.ndarray:
        r2 = ((points[:, 0] - lamp[0]) ** 2 + (points[:, 1] - lamp[1]) ** 2
              + (points[:, 2] - lamp[2]) ** 2)
        return face * (np.float32(0.85) + np.float32(0.45) / (np.float32(1) + r2 * np.float32(
            0.12)))

    return shade


# ----- building boxes -----------------------------------------------------------------
Painter = Callable[[np.random.Generator, tx.Sheet, int], None]


def _dress(box: Box, seed: int, faces, density: float,
           base: Callable[[np.random.Generator, tuple[int, int], float], np.ndarray],
           paint: Painter | None = None) -> None:
    """Give ``faces`` of ``box`` a texture (``base`` then ``paint``) and shading; every
    face has its own random stream."""
    for face in faces:
        rng = tx.rng_for(seed, f"{box.name}/{face}")
        w_m, h_m = box.face_size(face)
        shape = (max(2, round(h_m * density)), max(2, round(w_m * density)))
        sheet = tx.Sheet(w_m, h_m, density, base(rng, shape, density))
        if paint is not None:
            paint(rng, sheet, face)
        box.textures[face] = MipTexture(sheet.finish(), density)
        box.shading[face] = _shader(box.normal_world(face))


def _box(seed: int, name: str, center, half, yaw_deg: float = 0.0, *, density: float,
         base, paint: Painter | None = None) -> Box:
    """A solid box resting on something: its underside (never seen) gets a coarse texture."""
    yaw = math.radians(yaw_deg)
    box = Box(name, tuple(center), tuple(half), (math.cos(yaw), math.sin(yaw)))
    _dress(box, seed, (0, 1, 2, 4, 5), density, base, paint)
    _dress(box, seed, (3,), 20, base)
    return box


def _rotate(center, offset, yaw_deg):
    yaw = math.radians(yaw_deg)
    c, s = math.cos(yaw), math.sin(yaw)
    return (center[0] + c * offset[0] + s * offset[2], center[1] + offset[1],
            center[2] - s * offset[0] + c * offset[2])


# ----- materials ----------------------------------------------------------------------
def _plaster(low, high):
    return lambda rng, shape, density: tx.plaster(rng, shape, density, low, high)


def _planks(width_m, tint, vertical=False):
    return lambda rng, shape, density: tx.planks(rng, shape, density, width_m, tint, vertical)


def _tiles(size_m, low, high):
    return lambda rng, shape, density: tx.tiles(rng, shape, density, size_m, low, high)


def _paint_room(rng: np.random.Generator, sheet: tx.Sheet, face: int) -> None:
    w, h = sheet.size_m
    if face == 4:  # front wall (z = -2.5): a row of posters over a stencilled dado
        tx.splotches(sheet, rng, (0.35, 0.45, 0.55), 0.12, 0.3)
        for i in range(int(w / 0.5)):
            sheet.text(0.25 + 0.5 * i, 2.3 + 0.12 * (i % 3), str(rng.choice(tx.WORDS)), 0.05,
                       tx.random_color(rng, 0.05, 0.5))
        tx.scatter(sheet, rng, 10, (0.03, 0.08))
        tx.notes(sheet, rng, 8, (0.2, 1.8, w - 0.4, 0.4))
        x = 0.3
        while x < w - 1.0:
            pw = rng.uniform(0.6, 0.95)
            tx.poster(sheet, rng, x, rng.uniform(0.55, 0.9), pw, pw * rng.uniform(1.2, 1.45))
            x += pw + rng.uniform(0.25, 0.5)
    elif face == 1:  # +x wall: brick with a stage number and a chalkboard
        tx.sign(sheet, 1.4, 0.55, "STAGE 4", 0.16, (0.92, 0.88, 0.2), (0.1, 0.1, 0.1))
        sheet.rect(2.6, 0.9, 1.6, 1.0, (0.12, 0.22, 0.16))
        for i in range(6):
            words = " ".join(str(v) for v in rng.choice(tx.WORDS, 2))
            sheet.text(3.4, 1.02 + 0.15 * i, f"{i + 1}. {words}", 0.05, (0.85, 0.88, 0.8))
        tx.poster(sheet, rng, 4.7, 0.7, 0.8, 1.1)
    elif face == 0:  # -x wall: wallpaper of scattered shapes and framed pictures
        tx.scatter(sheet, rng, 28, (0.05, 0.14))
        for x in (0.9, 2.6, 4.2):
            sheet.rect(x - 0.06, 0.74, 1.07, 0.82, (0.25, 0.17, 0.1))
            tx.poster(sheet, rng, x, 0.8, 0.95, 0.7)
    elif face == 5:  # back wall (z = +2.5), doorway at u = 3.9..4.9: panelling and signs
        top = sheet.px(1.65)
        panel = tx.planks(rng, (sheet.height - top, sheet.width), sheet.density, 0.14,
                          (0.45, 0.32, 0.22), vertical=True)
        layer = np.zeros((*sheet.shape, 3), np.float32)
        layer[top:] = panel
        alpha = np.zeros(sheet.shape, np.float32)
        alpha[top:] = 1
        sheet.blend(layer, alpha)
        sheet.rect(0, 1.6, w, 0.06, (0.3, 0.2, 0.12))
        tx.splotches(sheet, rng, (0.6, 0.25, 0.2), 0.1, 0.2)
        tx.sign(sheet, 1.2, 0.7, "QUIET ON SET", 0.11, (0.85, 0.1, 0.1), (0.97, 0.95, 0.9))
        tx.sign(sheet, 4.4, 0.42, "EXIT", 0.08, (0.1, 0.55, 0.2), (0.95, 0.97, 0.95))
        tx.poster(sheet, rng, 2.3, 0.45, 0.8, 1.0)
        tx.poster(sheet, rng, 0.25, 0.95, 0.55, 0.55)
        tx.sign(sheet, 5.45, 1.0, "B-7", 0.12, (0.95, 0.95, 0.92), (0.1, 0.2, 0.6))
        for i in range(4):
            tx.sign(sheet, 1.0 + 0.75 * i, 1.95 + 0.18 * (i % 2), f"{rng.choice(tx.WORDS)}",
                    0.05, tx.random_color(rng, 0.6, 0.95), (0.1, 0.1, 0.1))
    elif face == 2:  # ceiling
        for _ in range(10):
            x, y = rng.uniform(0.3, w - 1.0), rng.uniform(0.3, h - 0.6)
            sheet.rect(x, y, 0.6, 0.3, (0.35, 0.36, 0.38))
            for k in range(5):
                sheet.rect(x + 0.05, y + 0.04 + 0.05 * k, 0.5, 0.02, (0.15, 0.15, 0.16))


_WALL_BASES = {
    4: _plaster((0.42, 0.5, 0.6), (0.78, 0.82, 0.86)),
    1: lambda rng, shape, density: tx.bricks(rng, shape, density, (0.6, 0.3, 0.22)),
    0: _plaster((0.62, 0.55, 0.42), (0.88, 0.82, 0.66)),
    5: _plaster((0.45, 0.5, 0.4), (0.8, 0.82, 0.7)),
    2: _tiles(0.6, (0.55, 0.55, 0.55), (0.8, 0.8, 0.78)),
}


def _room(seed: int) -> Box:
    room = Box("room", ROOM_CENTER, ROOM_HALF, inside=True)
    for face, base in _WALL_BASES.items():
        _dress(room, seed, (face,), 120 if face == 2 else 300, base, _paint_room)
    u0, u1 = DOOR_X[0] + ROOM_HALF[0], DOOR_X[1] + ROOM_HALF[0]
    room.holes.append((5, u0, u1, DOOR_TOP + 2 * ROOM_HALF[1], 2 * ROOM_HALF[1] + 1.0))
    return room


def _lay_floor(room: Box, seed: int, with_markers: bool, marker_size: float) -> list[Marker]:
    """Floorboards with spike marks and, optionally, ArUco markers; returns the markers."""
    markers: list[Marker] = []

    def paint(rng, sheet, face):
        cells = _marker_cells(4) if with_markers else []
        spots = [(-1.25, -0.6), (1.35, -0.8), (-1.1, 1.2), (1.05, 1.35)]
        avoid = []
        for marker_id, (x, z) in enumerate(spots if with_markers else []):
            # top-left of the marker image on whole texels; the image's right is +x and
            # its down is -z, so the floor seen from above shows it unmirrored
            u0 = round((x - marker_size / 2 + ROOM_HALF[0]) * FLOOR_DENSITY)
            v0 = round((ROOM_HALF[2] - z - marker_size / 2) * FLOOR_DENSITY)
            cell = marker_size / 6
            um, vm = u0 / FLOOR_DENSITY, v0 / FLOOR_DENSITY
            sheet.rect(um - cell, vm - cell, marker_size + 2 * cell, marker_size + 2 * cell,
                       (0.92, 0.92, 0.9))
            for r in range(6):
                for c in range(6):
                    if not cells[marker_id][r][c]:
                        sheet.rect(um + c * cell, vm + r * cell, cell, cell, (0.05, 0.05, 0.06))
            corners_uv = [(um, vm), (um + marker_size, vm), (um + marker_size, vm + marker_size),
                          (um, vm + marker_size)]
            markers.append(Marker(marker_id, [[u - ROOM_HALF[0], 0.0, ROOM_HALF[2] - v]
                                              for u, v in corners_uv]))
            avoid.append((um - 0.1, vm - 0.1, marker_size + 0.2, marker_size + 0.2))
        tx.splotches(sheet, rng, (0.2, 0.3, 0.45), 0.05, 0.35)
        tx.spike_marks(sheet, rng, 40, avoid)

    _dress(room, seed, (3,), FLOOR_DENSITY, _planks(0.16, (0.62, 0.42, 0.26)), paint)
    return markers


def _marker_cells(count: int) -> list[list[list[bool]]]:
    """White/black 6x6 cells (with the black border) of ArUco markers 0..count-1."""
    import cv2

    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, MARKER_DICTIONARY))
    return [(cv2.aruco.generateImageMarker(dictionary, i, 6, borderBits=1) > 127).tolist()
            for i in range(count)]


def _paint_hall(rng, sheet, face):
    h = sheet.size_m[1]
    if face == 5:  # far wall, seen through the doorway
        tx.poster(sheet, rng, 0.5, 0.5, 1.1, 1.2)
        tx.sign(sheet, 1.1, 2.0, "EXIT", 0.1, (0.1, 0.55, 0.2), (0.95, 0.97, 0.95))
    elif face in (0, 1):
        for i in range(3):
            tx.sign(sheet, 0.4 + 0.7 * i, 0.9, str(rng.choice(tx.WORDS)), 0.07,
                    tx.random_color(rng, 0.6, 0.95), (0.1, 0.1, 0.12))
    if h > 0.5 and face != 3:
        tx.splotches(sheet, rng, (0.3, 0.22, 0.35), 0.08, 0.25)


def _paint_crate(rng, sheet, face):
    w, h = sheet.size_m
    if face in (2, 3):
        return
    sheet.rect(0, 0, 0.05, h, (0.3, 0.2, 0.1))
    sheet.rect(w - 0.05, 0, 0.05, h, (0.3, 0.2, 0.1))
    ink = tx.random_color(rng, 0.0, 0.35)
    sheet.text(w / 2, h * 0.4, str(rng.choice(tx.WORDS)), min(0.07, w / 9), ink)
    sheet.text(w / 2, h * 0.65, f"No {int(rng.integers(10, 99))}", min(0.05, w / 9), ink)


def _paint_carton(rng, sheet, face):
    w, h = sheet.size_m
    if face == 3:
        return
    sheet.rect(0, h / 2 - 0.025, w, 0.05, (0.72, 0.66, 0.45))
    sheet.rect(w * 0.15, h * 0.15, w * 0.55, h * 0.28, (0.95, 0.94, 0.9))
    sheet.text(w * 0.42, h * 0.29, str(rng.choice(tx.WORDS)), min(0.035, w / 12),
               (0.1, 0.1, 0.1))
    x = w * 0.2
    while x < w * 0.6:  # a barcode with bars no thinner than a centimetre
        bar = rng.uniform(0.008, 0.02)
        sheet.rect(x, h * 0.6, bar, h * 0.2, (0.1, 0.1, 0.1))
        x += bar + rng.uniform(0.008, 0.02)


def _paint_table(rng, sheet, face):
    w, h = sheet.size_m
    if face != 2:
        return
    sheet.rect(0.15, 0.12, 0.45, 0.6, (0.95, 0.94, 0.88))  # a script page
    for i in range(9):
        words = " ".join(str(v) for v in rng.choice(tx.WORDS, 3))
        sheet.text(0.18, 0.18 + 0.055 * i, words, 0.018, (0.1, 0.1, 0.15), anchor="lm")
    for _ in range(5):
        s = rng.uniform(0.08, 0.14)
        sheet.ellipse(rng.uniform(0.7, w - 0.2), rng.uniform(0.05, h - 0.2), s, s,
                      tx.random_color(rng, 0.1, 0.9))
    tx.poster(sheet, rng, w - 0.55, 0.1, 0.4, 0.3)


def _paint_flat(rng, sheet, face):
    w = sheet.size_m[0]
    if face not in (4, 5):
        return
    tx.scatter(sheet, rng, 20, (0.03, 0.09))
    tx.notes(sheet, rng, 3, (0.1, 1.3, w - 0.2, 0.6))
    sheet.rect(0.25, 0.3, w - 0.5, 0.9, (0.9, 0.9, 0.85))
    sky = tx.contrast(tx.fbm(rng, sheet.px(0.8), sheet.px(w - 0.6), 0.25 * sheet.density), 1.8)
    layer = np.zeros((*sheet.shape, 3), np.float32)
    alpha = np.zeros(sheet.shape, np.float32)
    y0, x0 = sheet.px(0.35), sheet.px(0.3)
    layer[y0:y0 + sky.shape[0], x0:x0 + sky.shape[1]] = tx.mix(sky, (0.3, 0.5, 0.85),
                                                               (0.9, 0.92, 0.95))
    alpha[y0:y0 + sky.shape[0], x0:x0 + sky.shape[1]] = 1
    sheet.blend(layer, alpha)
    sheet.rect(w / 2 - 0.025, 0.35, 0.05, 0.8, (0.9, 0.9, 0.85))
    sheet.rect(0.3, 0.73, w - 0.6, 0.04, (0.9, 0.9, 0.85))
    sheet.text(w / 2, 1.25, f"FLAT {int(rng.integers(1, 30))}", 0.09, (0.2, 0.1, 0.1))


# Circles (x, z centre; radius in metres) around what stands on the floor in
# ``build_stage``, for placing things clear of it.
PROP_FOOTPRINTS = (((0.1, 0.35), 0.82), ((-2.2, 1.7), 0.46), ((2.3, -1.7), 0.57),
                   ((-2.72, -1.3), 0.51), ((2.2, 1.5), 0.4), ((-1.2, -2.2), 0.7))


def crew_member(seed: int, center, half, yaw_deg: float) -> Box:
    """An opaque stand-in for a person in the shot: a box in dark, creased clothes."""
    return _box(seed, "crew", center, half, yaw_deg, density=200,
                base=_plaster((0.1, 0.1, 0.14), (0.32, 0.28, 0.3)))


def build_stage(seed: int, markers: bool = True, marker_size: float = 0.2) -> StageSet:
    """The whole set for ``seed``; identical texels every time for the same arguments."""
    wood = (0.55, 0.38, 0.22)
    room = _room(seed)
    marker_list = _lay_floor(room, seed, markers, marker_size)
    doorway = [(x, y, 2.5) for x in DOOR_X for y in (0.0, DOOR_TOP)]
    hall = Box("hall", HALL["center"], HALL["half"], inside=True, seen_through=doorway)
    _dress(hall, seed, range(6), 160, _tiles(0.15, (0.35, 0.5, 0.5), (0.75, 0.85, 0.8)),
           _paint_hall)
    boxes = [room, hall]
    # door casing: two jambs and a header, through the wall
    for name, center, half in (
        ("jamb-l", (DOOR_X[0] - 0.04, DOOR_TOP / 2, 2.5), (0.04, -DOOR_TOP / 2, 0.08)),
        ("jamb-r", (DOOR_X[1] + 0.04, DOOR_TOP / 2, 2.5), (0.04, -DOOR_TOP / 2, 0.08)),
        ("header", (sum(DOOR_X) / 2, DOOR_TOP - 0.05, 2.5),
         ((DOOR_X[1] - DOOR_X[0]) / 2 + 0.08, 0.05, 0.08)),
    ):
        boxes.append(_box(seed, name, center, half, density=300,
                          base=_plaster((0.75, 0.72, 0.62), (0.95, 0.92, 0.85))))
    table_center, table_yaw = (0.1, -0.725, 0.35), 12.0
    boxes.append(_box(seed, "table", table_center, (0.7, 0.025, 0.42), table_yaw, density=400,
                      base=_planks(0.12, (0.7, 0.5, 0.3)), paint=_paint_table))
    for i, (lx, lz) in enumerate(((-0.62, -0.34), (0.62, -0.34), (-0.62, 0.34), (0.62, 0.34))):
        leg = _rotate((table_center[0], -0.35, table_center[2]), (lx, 0, lz), table_yaw)
        boxes.append(_box(seed, f"leg-{i}", leg, (0.03, 0.35, 0.03), table_yaw, density=300,
                          base=_plaster((0.2, 0.13, 0.08), (0.45, 0.3, 0.18))))
    props = [
        ("prop-box", _rotate(table_center, (0.35, -0.135, -0.1), table_yaw), (0.15, 0.11, 0.1),
         table_yaw + 20, _paint_carton, tx.cardboard),
        ("crate-a", (-2.2, -0.3, 1.7), (0.35, 0.3, 0.3), 25.0, _paint_crate,
         _planks(0.1, wood, vertical=True)),
        ("crate-b", (-2.2, -0.78, 1.7), (0.22, 0.18, 0.2), 40.0, _paint_carton, tx.cardboard),
        ("crate-c", (2.3, -0.32, -1.7), (0.45, 0.32, 0.35), -10.0, _paint_crate,
         _planks(0.12, (0.5, 0.42, 0.3), vertical=True)),
        ("cabinet", (-2.72, -0.9, -1.3), (0.25, 0.9, 0.45), 0.0, _paint_crate,
         _planks(0.15, (0.3, 0.35, 0.45))),
        ("carton-e", (2.2, -0.25, 1.5), (0.28, 0.25, 0.28), 35.0, _paint_carton, tx.cardboard),
        ("flat", (-1.2, -1.0, -2.2), (0.7, 1.0, 0.04), 8.0, _paint_flat,
         _plaster((0.55, 0.45, 0.35), (0.85, 0.78, 0.62))),
    ]
    for name, center, half, yaw, paint, base in props:
        boxes.append(_box(seed, name, center, half, yaw, density=400 if name != "flat" else 300,
                          base=base, paint=paint))
    return StageSet(boxes, marker_list, marker_size if markers else None)
