"""USD: a scene as one ``UsdVol.ParticleField3DGaussianSplat`` prim (usd-core >= 26.3).

The stage is Y-up in metres (``core.frames`` converts on the way in and records the
source frame) and the values follow the conventions NVIDIA's converter and Omniverse
use: activated ``scales`` (linear) and ``opacities`` (0..1), normalised ``orientations``
(``Gf.Quatf``, real part first; stored x,y,z,w in memory), SH as float3 per coefficient,
DC first, grouped by splat (``elementSize = (degree+1)²``), an authored ``extent`` and a
``primvars:displayColor`` from the DC term for viewers that cannot draw splats.

Arrays go to USD straight from numpy (``Vt.*Array.FromNumpy``). ``half=True`` stores
orientations, scales, opacities and SH as half floats (the ``...h`` attributes);
positions stay float32, since half would round a 50 m set to 2–3 cm steps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core import sh as shlib
from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.frames import YUP, convert_scene, get_frame
from setsplat.core.jsonio import json_default
from setsplat.core.scene import GaussianScene

PRIM_NAME = "Splats"
META_KEY = "setsplat"
EXTENT_SIGMAS = 3.0  # a Gaussian drawn to 3 sigma: the extent bounds what a renderer shows
_FIX_HINT = "the file is damaged or not a splat scene; re-export it from its source"
# Opacities are stored activated: keep them strictly inside (0, 1) when going back to logits.
_OPACITY_LOW = np.float32(np.finfo(np.float32).tiny)
_OPACITY_HIGH = np.nextafter(np.float32(1), np.float32(0))
# A Z-up stage (x right, y forward, z up) seen in our Y-up axes: y' = z, z' = -y.
_Z_UP_TO_Y_UP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], np.float64)


def splat_arrays(scene: GaussianScene, half: bool = False) -> dict[str, np.ndarray]:
    """The stored values of a Y-up scene as the schema wants them, keyed by attribute."""
    dtype = np.float16 if half else np.float32
    scales = np.exp(scene.log_scales, dtype=np.float64)  # rounded once, so logs come back
    opacities = np.exp(-scene.opacity_logits.astype(np.float64))
    opacities += 1.0
    np.reciprocal(opacities, out=opacities)
    return {
        "positions": scene.means,
        "orientations": np.roll(scene.quats, -1, axis=1).astype(dtype, copy=False),  # x,y,z,w
        "scales": scales.astype(dtype, copy=False),
        "opacities": opacities.astype(dtype),
        "sh": scene.sh.reshape(-1, 3).astype(dtype, copy=False),
    }


def splat_extent(means: np.ndarray, quats: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(2, 3) box around every splat's ellipsoid out to ``EXTENT_SIGMAS``.

    Along world axis i an ellipsoid with rotation R and radii s reaches
    sqrt(sum_j (R_ij s_j)²); the squared entries of R come straight from the quaternion.
    """
    if len(means) == 0:
        return np.zeros((2, 3), np.float32)
    w, x, y, z = (quats[:, i] for i in range(4))
    s2 = [(scales[:, j] * EXTENT_SIGMAS) ** 2 for j in range(3)]
    xx, yy, zz = x * x, y * y, z * z
    rows = (
        (1 - 2 * (yy + zz), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (xx + zz), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (xx + yy)),
    )
    low, high = np.empty(3, np.float32), np.empty(3, np.float32)
    for i, row in enumerate(rows):
        reach = np.sqrt(sum(r * r * s for r, s in zip(row, s2)))
        low[i] = (means[:, i] - reach).min()
        high[i] = (means[:, i] + reach).max()
    return np.stack([low, high])


def write(path: str | os.PathLike, scene: GaussianScene, *, half: bool = False,
          prim_name: str = PRIM_NAME) -> np.ndarray:
    """Write ``scene`` as a splat stage (.usd/.usdc binary, .usda text); returns the
    authored extent (2, 3) in the stage's Y-up metres."""
    from pxr import Sdf, UsdGeom

    path = Path(path)
    stage = _new_stage(path)
    prim = define_splats(stage, Sdf.Path.absoluteRootPath.AppendChild(prim_name), scene,
                         half=half)
    stage.SetDefaultPrim(prim)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    _save(stage, path)
    return np.asarray(prim.GetAttribute("extent").Get(), dtype=np.float32)


def define_splats(stage: Any, prim_path: Any, scene: GaussianScene, *, half: bool = False) -> Any:
    """Author a ParticleField3DGaussianSplat prim for ``scene`` (converted to Y-up metres)."""
    from pxr import Sdf, UsdGeom, UsdVol, Vt

    source_frame = scene.frame
    scene = convert_scene(scene, YUP)
    arrays = splat_arrays(scene, half)
    splats = UsdVol.ParticleField3DGaussianSplat.Define(stage, prim_path)
    splats.CreatePositionsAttr(Vt.Vec3fArray.FromNumpy(arrays["positions"]))
    if half:
        splats.CreateOrientationshAttr(Vt.QuathArray.FromNumpy(arrays["orientations"]))
        splats.CreateScaleshAttr(Vt.Vec3hArray.FromNumpy(arrays["scales"]))
        splats.CreateOpacitieshAttr(Vt.HalfArray.FromNumpy(arrays["opacities"]))
        sh_attr = splats.CreateRadianceSphericalHarmonicsCoefficientshAttr(
            Vt.Vec3hArray.FromNumpy(arrays["sh"]))
    else:
        splats.CreateOrientationsAttr(Vt.QuatfArray.FromNumpy(arrays["orientations"]))
        splats.CreateScalesAttr(Vt.Vec3fArray.FromNumpy(arrays["scales"]))
        splats.CreateOpacitiesAttr(Vt.FloatArray.FromNumpy(arrays["opacities"]))
        sh_attr = splats.CreateRadianceSphericalHarmonicsCoefficientsAttr(
            Vt.Vec3fArray.FromNumpy(arrays["sh"]))
    splats.CreateRadianceSphericalHarmonicsDegreeAttr(scene.sh_degree)
    sh_primvar = UsdGeom.Primvar(sh_attr)
    sh_primvar.SetInterpolation(UsdGeom.Tokens.vertex)
    sh_primvar.SetElementSize(scene.sh.shape[1])
    del arrays
    extent = splat_extent(scene.means, scene.quats, scene.scales)
    splats.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(extent))
    UsdGeom.PrimvarsAPI(splats).CreatePrimvar(
        "displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.vertex
    ).Set(Vt.Vec3fArray.FromNumpy(scene.colors))
    prim = splats.GetPrim()
    prim.SetCustomDataByKey(META_KEY, json.dumps(
        {"source_frame": source_frame.name, "meta": scene.meta},
        sort_keys=True, default=json_default))
    return prim


def read(path: str | os.PathLike) -> GaussianScene:
    """Read the splat prim of a stage (its default prim, else the first splat prim) as a
    Y-up scene in metres; stages in other units or Z-up are brought to that."""
    from pxr import Usd, UsdGeom, UsdVol

    path = Path(path)
    if not path.is_file():
        raise SetsplatError("no such file" if not path.exists() else "is a folder",
                            "give the path of a USD file", path)
    stage = open_stage(path)
    prim = stage.GetDefaultPrim()
    if not (prim and prim.IsA(UsdVol.ParticleField3DGaussianSplat)):
        prim = next((p for p in stage.Traverse() if p.IsA(UsdVol.ParticleField3DGaussianSplat)),
                    None)
    if prim is None:
        raise SetsplatError("the stage has no ParticleField3DGaussianSplat prim",
                            "it holds no Gaussian splats", path)
    scene = read_prim(prim, path)
    world = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(
        Usd.TimeCode.Default()), dtype=np.float64).T  # Gf matrices are row-vector
    meters = UsdGeom.GetStageMetersPerUnit(stage)
    if UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z:
        world = _Z_UP_TO_Y_UP @ world
    world[:3] *= meters
    if not np.allclose(world, np.eye(4)):
        scene = scene.transform(world)
    return scene


def read_prim(prim: Any, path: str | os.PathLike) -> GaussianScene:
    """The scene stored on one splat prim (in the prim's local space)."""
    positions = _array(prim, "positions", 3, path)
    n = len(positions)
    orientations = _array(prim, "orientations", 4, path, n)
    scales = _array(prim, "scales", 3, path, n)
    opacities = _array(prim, "opacities", 0, path, n)
    coefficients = _array(prim, "radiance:sphericalHarmonicsCoefficients", 3, path)
    degree_attr = prim.GetAttribute("radiance:sphericalHarmonicsDegree")
    degree = degree_attr.Get() if degree_attr and degree_attr.HasAuthoredValue() else None
    per_splat = len(coefficients) // n if n else shlib.num_coeffs(degree or 0)
    if n and (per_splat * n != len(coefficients) or per_splat not in (1, 4, 9, 16)
              or (degree is not None and shlib.num_coeffs(degree) != per_splat)):
        raise SetsplatError(
            f"{len(coefficients)} SH coefficients for {n} splats"
            + (f" of degree {degree}" if degree is not None else ""),
            _FIX_HINT, path)
    opacities = np.clip(opacities.astype(np.float64), _OPACITY_LOW, _OPACITY_HIGH)
    meta: dict[str, Any] = {}
    info = prim.GetCustomDataByKey(META_KEY)
    if isinstance(info, str):
        try:
            meta = dict(json.loads(info).get("meta", {}))
        except (ValueError, AttributeError):
            meta = {}
    with np.errstate(divide="ignore"):
        log_scales = np.log(scales.astype(np.float64))
    if not np.isfinite(log_scales).all():
        raise SetsplatError("some splats have a zero or negative scale", _FIX_HINT, path)
    try:
        return GaussianScene(
            means=positions,
            quats=orientations[:, [3, 0, 1, 2]],
            log_scales=log_scales,
            opacity_logits=np.log(opacities) - np.log1p(-opacities),
            sh=coefficients.reshape(n, per_splat, 3),
            frame=YUP,
            meta=meta,
        )
    except SetsplatError as exc:
        raise SetsplatError(exc.what, exc.hint, path) from None


def source_frame(prim: Any):
    """The frame the scene was in before it was written (recorded by ``define_splats``)."""
    info = prim.GetCustomDataByKey(META_KEY)
    try:
        return get_frame(json.loads(info)["source_frame"])
    except (TypeError, ValueError, KeyError, SetsplatError):
        return YUP


def count(prim: Any) -> int:
    """How many splats a prim holds, without reading the other arrays."""
    for name in ("positions", "positionsh"):
        attr = prim.GetAttribute(name)
        if attr and attr.HasAuthoredValue():
            return len(attr.Get())
    return 0


def _array(prim: Any, name: str, width: int, path: str | os.PathLike,
           expect: int | None = None) -> np.ndarray:
    """A float attribute as float32 numpy, from the float or the half (``...h``) version."""
    for attr_name in (name, name + "h"):
        attr = prim.GetAttribute(attr_name)
        if attr and attr.HasAuthoredValue():
            value = np.asarray(attr.Get())
            break
    else:
        raise SetsplatError(f"the splat prim has no {name!r} values", _FIX_HINT, path)
    value = value.astype(np.float32).reshape((-1, width) if width else (-1,))
    if expect is not None and len(value) != expect:
        raise SetsplatError(f"{name!r} has {len(value)} values for {expect} splats",
                            _FIX_HINT, path)
    return value


def open_stage(path: str | os.PathLike, load_all: bool = True) -> Any:
    """Open a stage, turning USD's exceptions into one-line errors."""
    from pxr import Tf, Usd

    try:
        stage = Usd.Stage.Open(os.fspath(path),
                               Usd.Stage.LoadAll if load_all else Usd.Stage.LoadNone)
    except Tf.ErrorException as exc:
        first = str(exc).strip().splitlines()[-1].strip() if str(exc).strip() else "unreadable"
        raise SetsplatError(f"USD cannot open it ({first})", _FIX_HINT, path) from None
    if stage is None:
        raise SetsplatError("USD cannot open it", _FIX_HINT, path)
    return stage


def _new_stage(path: Path) -> Any:
    from pxr import Sdf, Usd

    if path.suffix.lower() not in (".usd", ".usda", ".usdc"):
        raise SetsplatError(f"USD files end in .usd, .usda or .usdc, not {path.suffix!r}",
                            "change the file name", path)
    fmt = "usda" if path.suffix.lower() == ".usda" else "usdc"
    layer = Sdf.Layer.CreateAnonymous(f"splats.{fmt}")
    return Usd.Stage.Open(layer)


def _save(stage: Any, path: Path) -> None:
    """Export beside the target and rename, so the file appears whole or not at all."""
    from pxr import Tf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part{path.suffix}")
    try:
        ok = stage.GetRootLayer().Export(os.fspath(tmp))
        if not ok:
            raise SetsplatError("USD could not write the file", "check the folder", path)
        os.replace(tmp, path)
    except Tf.ErrorException as exc:
        raise SetsplatError(f"USD could not write the file ({str(exc).strip()})",
                            "check the folder and free disk space", path) from None
    except OSError as exc:
        raise os_error(exc, path, "writing") from exc
    finally:
        if tmp.exists():
            tmp.unlink()

