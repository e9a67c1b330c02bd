"""Frames: three axis letters plus a unit, and the named frames setsplat converts among.

Each letter names the physical direction its axis points to, relative to an observer:
R/L (right/left), U/D (up/down), F/B (forward/back). ``RDF`` is OpenCV/COLMAP (x right,
y down, z forward), ``RUB`` is glTF/USD/OpenGL (y up, z towards the viewer), ``RUF`` is
Unity, ``FRU`` is Unreal. Conversions between frames live in ``core.frames``; this
module only names them, so that a scene can carry its frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setsplat.core.errors import SetsplatError

# Physical directions in a fixed reference basis (right, up, forward): a left-handed
# triple, so a frame is right-handed exactly when its basis has determinant -1.
_DIRECTIONS = {
    "R": (1, 0, 0), "L": (-1, 0, 0),
    "U": (0, 1, 0), "D": (0, -1, 0),
    "F": (0, 0, 1), "B": (0, 0, -1),
}


def axes_basis(axes: str) -> np.ndarray:
    """Rows: the physical direction of each axis. Coordinates in the frame = basis @ v."""
    if len(axes) != 3 or any(a not in _DIRECTIONS for a in axes):
        raise ValueError(f"axes must be three of R/L/U/D/F/B, got {axes!r}")
    basis = np.array([_DIRECTIONS[a] for a in axes], dtype=np.float64)
    if abs(np.linalg.det(basis)) != 1:
        raise ValueError(f"axes {axes!r} name the same direction twice")
    return basis


@dataclass(frozen=True)
class Frame:
    name: str
    axes: str
    meters_per_unit: float
    description: str

    @property
    def basis(self) -> np.ndarray:
        return axes_basis(self.axes)

    @property
    def handedness(self) -> str:
        return "right" if np.linalg.det(self.basis) < 0 else "left"

    @property
    def up(self) -> np.ndarray:
        """The frame's up direction, in its own coordinates."""
        return self.basis @ np.array(_DIRECTIONS["U"], dtype=np.float64)

    def __str__(self) -> str:
        return self.name


RDF = Frame("rdf", "RDF", 1.0, "COLMAP / OpenCV / 3DGS PLY: x right, y down, z forward")
YUP = Frame("yup", "RUB", 1.0, "glTF / USD / Omniverse: Y up, right-handed, metres")
UNITY = Frame("unity", "RUF", 1.0, "Unity: Y up, left-handed, metres")
UNREAL = Frame("unreal", "FRU", 0.01, "Unreal: Z up, X forward, left-handed, centimetres")
SPZ = Frame("spz", "RUB", 1.0, "SPZ as stored: x right, y up, z back")

FRAMES: dict[str, Frame] = {f.name: f for f in (RDF, YUP, UNITY, UNREAL, SPZ)}

# A glTF file meant for one engine's glTF importers: each importer reads glTF's x, y, z
# as fixed axes of its engine (Unreal's as X, Z, Y, scaled to centimetres; Unity's
# glTFast and UnityGLTF as -X, Y, Z), so a mesh stored in these axes lands in the
# engine's own frame, on splats converted to that frame.
UNREAL_GLTF = Frame("unreal_gltf", "FUR", 1.0,
                    "glTF for Unreal's glTF importers: x forward, y up, z right, metres")
UNITY_GLTF = Frame("unity_gltf", "LUF", 1.0,
                   "glTF for Unity's glTF importers: x left, y up, z forward, metres")
GLTF_FRAMES: dict[str, Frame] = {f.name: f for f in (YUP, UNREAL_GLTF, UNITY_GLTF)}
ALIASES = {"colmap": "rdf", "opencv": "rdf", "3dgs": "rdf", "gltf": "yup", "usd": "yup",
           "omniverse": "yup", "rub": "spz"}


def get_frame(frame: Frame | str) -> Frame:
    if isinstance(frame, Frame):
        return frame
    key = ALIASES.get(frame.lower(), frame.lower())
    if key not in FRAMES:
        names = ", ".join(sorted([*FRAMES, *ALIASES]))
        raise SetsplatError(f"unknown frame {frame!r}", f"use one of: {names}")
    return FRAMES[key]
