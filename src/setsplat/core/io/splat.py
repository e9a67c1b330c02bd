"""``.splat``: the 32-byte-a-splat layout of antimatter15's web viewer.

Each splat, little-endian and packed: position float32 x3, linear scale float32 x3
(``exp(log_scale)``), color RGBA uint8 x4 (RGB the DC color ``0.5 + SH_C0·dc`` and A
the opacity, both ×255) and the rotation uint8 x4 (w, x, y, z of the unit quaternion,
``q·128 + 128``). There is no header, no higher SH and no frame: positions are in the
3DGS PLY frame (RDF) that viewers expect. We write splats most important first
(opacity × volume, as the viewer's converter does) so a streamed file fills in sensibly.

Round-trip tolerances (our writer, our reader): positions exact; log-scales within
float32 rounding of ``log(exp(x))`` (≈1e-6 relative); DC color within half a byte
(0.5/255 in RGB, i.e. ≤ 0.0070 in the SH coefficient) for colors inside 0..1, clipped
outside; opacity within half a byte (0.5/255); each quaternion component within 0.5/128
before renormalising (≤ 0.9° of rotation); SH bands above 0 are dropped.
"""

from __future__ import annotations

import os

import numpy as np

from setsplat.core import sh as shlib
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import RDF, convert_scene
from setsplat.core.fsutil import atomic_write
from setsplat.core.io._common import logit, read_bytes, sigmoid, to_byte
from setsplat.core.io._manifest import add_export_facts
from setsplat.core.scene import GaussianScene

RECORD = np.dtype([("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4),
                   ("rotation", "u1", 4)])
assert RECORD.itemsize == 32
FRAME = RDF
_FIX_HINT = "the file is damaged or not a .splat file; export it again"


def importance_order(scene: GaussianScene) -> np.ndarray:
    """Indices, most important splat first: opacity × ellipsoid volume."""
    volume = np.exp(scene.log_scales.astype(np.float64).sum(1))
    return np.argsort(-(volume * sigmoid(scene.opacity_logits)), kind="stable")


def encode(scene: GaussianScene, *, sort: bool = True) -> bytes:
    """The file's bytes for ``scene`` (converted to RDF first if it is in another frame)."""
    if scene.frame != FRAME:
        scene = convert_scene(scene, FRAME)
    if sort:
        scene = scene.subset(importance_order(scene))
    table = np.empty(len(scene), RECORD)
    table["position"] = scene.means
    table["scale"] = scene.scales
    table["rgba"][:, :3] = to_byte(shlib.dc_to_rgb(scene.sh[:, 0].astype(np.float64)) * 255)
    table["rgba"][:, 3] = to_byte(sigmoid(scene.opacity_logits) * 255)
    table["rotation"] = to_byte(scene.quats.astype(np.float64) * 128 + 128)
    return table.tobytes()


def decode(data: bytes, path: str | os.PathLike | None = None) -> GaussianScene:
    if len(data) % RECORD.itemsize:
        raise SetsplatError(f"size {len(data)} bytes is not a multiple of 32 (one splat)",
                            _FIX_HINT, path)
    table = np.frombuffer(data, RECORD)
    quats = (table["rotation"].astype(np.float32) - 128) / 128
    if np.any(~quats.any(1)):
        raise SetsplatError("a splat has an all-zero rotation", _FIX_HINT, path)
    scales = table["scale"]
    if not np.isfinite(scales).all() or np.any(scales <= 0):
        raise SetsplatError("a splat has a zero, negative or non-finite scale", _FIX_HINT, path)
    rgba = table["rgba"].astype(np.float64) / 255
    try:
        return GaussianScene(
            means=table["position"],
            quats=quats,
            log_scales=np.log(scales),
            opacity_logits=logit(rgba[:, 3]),
            sh=shlib.rgb_to_dc(rgba[:, None, :3]),
            frame=FRAME,
            meta={"unscaled": True},
        )
    except SetsplatError as exc:
        raise SetsplatError(exc.what, _FIX_HINT, path) from None


def read(path: str | os.PathLike) -> GaussianScene:
    """Read a ``.splat`` file (SH degree 0, RDF frame). The format carries no units: the
    scene is marked unscaled unless the manifest of the export that wrote it is beside
    it and lists it (``_manifest``)."""
    data = read_bytes(path, _FIX_HINT)
    scene = decode(data, path)
    add_export_facts(scene, path, data)
    return scene


def write(path: str | os.PathLike, scene: GaussianScene, *, sort: bool = True) -> None:
    """Write ``scene`` as ``.splat`` (atomically); higher SH bands are dropped."""
    data = encode(scene, sort=sort)
    with atomic_write(path) as f:
        f.write(data)
