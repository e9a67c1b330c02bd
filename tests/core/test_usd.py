"""USD splat codec: exact round trips, the schema's conventions, Y-up, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core import sh as shlib
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import convert_scene
from setsplat.core.io import read_scene, usd, write_scene
from setsplat.core.scene import GaussianScene

pxr = pytest.importorskip("pxr")


def _same_up_to_quat_sign(a: np.ndarray, b: np.ndarray) -> bool:
    """q and -q are the same rotation; RDF -> Y-up -> RDF composes two half turns (-1)."""
    sign = np.where(np.einsum("ij,ij->i", a, b) < 0, -1.0, 1.0).astype(np.float32)
    return np.array_equal(a, b * sign[:, None])


def _activated(scene: GaussianScene) -> tuple[np.ndarray, np.ndarray]:
    arrays = usd.splat_arrays(scene)
    return arrays["scales"], arrays["opacities"]


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_float_round_trip_is_exact(tmp_path, scene_factory, degree):
    scene = scene_factory(500, degree=degree, seed=degree)
    scene.meta.update(antialiased=True)
    path = tmp_path / "s.usdc"
    usd.write(path, scene)
    back = usd.read(path)
    assert back.frame.name == "yup" and back.meta == {"antialiased": True}
    again = convert_scene(back, "rdf")
    # Positions and SH only change sign on the way (diag(1,-1,-1)): bit-exact.
    assert np.array_equal(again.means, scene.means)
    assert np.array_equal(again.sh, scene.sh)
    assert _same_up_to_quat_sign(again.quats, scene.quats)
    # Stored activated (the schema's convention): what a renderer sees is bit-identical;
    # the logits come back within one float32 step of the activated value.
    for ours, theirs in zip(_activated(again), _activated(scene)):
        assert np.array_equal(ours, theirs)
    np.testing.assert_allclose(again.log_scales, scene.log_scales, rtol=0, atol=2.5e-7)
    np.testing.assert_allclose(again.opacity_logits, scene.opacity_logits, rtol=0, atol=2e-6)


def test_half_round_trip_within_1e3_relative(tmp_path, scene_factory):
    scene = scene_factory(2000, degree=3, seed=5)
    path = tmp_path / "h.usdc"
    usd.write(path, scene, half=True)
    back = convert_scene(usd.read(path), "rdf")
    assert np.array_equal(back.means, scene.means)  # positions stay float32
    for ours, theirs in zip(_activated(back), _activated(scene)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3)
    # Values below half's normal range (6.1e-5) keep an absolute error below 3e-8.
    np.testing.assert_allclose(back.sh, scene.sh, rtol=1e-3, atol=3e-8)
    dots = np.abs(np.einsum("ij,ij->i", back.quats, scene.quats))
    assert dots.min() > 1 - 1e-6
    assert path.stat().st_size < 0.6 * _float_size(tmp_path, scene)


def _float_size(tmp_path, scene):
    usd.write(tmp_path / "f.usdc", scene)
    return (tmp_path / "f.usdc").stat().st_size


def test_schema_conventions(tmp_path, scene_factory):
    """One typed prim, activated values, real-first quats, DC-first coefficient-major SH
    with elementSize, extent and displayColor; a Y-up stage in metres."""
    from pxr import Usd, UsdGeom, UsdVol

    scene = scene_factory(50, degree=2, seed=1)
    path = tmp_path / "c.usda"
    usd.write(path, scene)
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == "Y" and UsdGeom.GetStageMetersPerUnit(stage) == 1
    prim = stage.GetDefaultPrim()
    assert prim.IsA(UsdVol.ParticleField3DGaussianSplat)
    assert [p.GetName() for p in stage.Traverse()] == [prim.GetName()]
    splats = UsdVol.ParticleField3DGaussianSplat(prim)
    yup = convert_scene(scene, "yup")
    np.testing.assert_array_equal(np.asarray(splats.GetPositionsAttr().Get()), yup.means)
    np.testing.assert_array_equal(yup.means[:, 1:], -scene.means[:, 1:])
    quats = splats.GetOrientationsAttr().Get()
    real = np.array([q.GetReal() for q in quats], np.float32)
    imaginary = np.array([list(q.GetImaginary()) for q in quats], np.float32)
    np.testing.assert_array_equal(real, yup.quats[:, 0])
    np.testing.assert_array_equal(imaginary, yup.quats[:, 1:])
    np.testing.assert_allclose(np.asarray(splats.GetScalesAttr().Get()), np.exp(yup.log_scales),
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(splats.GetOpacitiesAttr().Get()), yup.opacities,
                               rtol=1e-6)
    coefficients = splats.GetRadianceSphericalHarmonicsCoefficientsAttr()
    assert splats.GetRadianceSphericalHarmonicsDegreeAttr().Get() == 2
    primvar = UsdGeom.Primvar(coefficients)
    assert primvar.GetElementSize() == 9 and primvar.GetInterpolation() == "vertex"
    values = np.asarray(coefficients.Get())
    assert values.shape == (50 * 9, 3)
    np.testing.assert_array_equal(values[:9], yup.sh[0])  # splat 0: DC, then band 1, ...
    colors = np.asarray(UsdGeom.PrimvarsAPI(prim).GetPrimvar("displayColor").Get())
    np.testing.assert_allclose(colors, np.clip(shlib.SH_C0 * yup.sh[:, 0] + 0.5, 0, 1),
                               atol=1e-7)
    low, high = np.asarray(splats.GetExtentAttr().Get())
    assert (yup.means >= low).all() and (yup.means <= high).all()
    reach = 3 * yup.scales.max(1, keepdims=True)
    assert (low >= (yup.means - reach).min(0) - 1e-5).all()


def test_suffix_dispatch_and_empty_scene(tmp_path, scene_factory):
    scene = scene_factory(10, degree=1)
    write_scene(tmp_path / "a.usda", scene)
    assert len(read_scene(tmp_path / "a.usda")) == 10
    usd.write(tmp_path / "e.usdc", GaussianScene.empty(2))
    back = usd.read(tmp_path / "e.usdc")
    assert len(back) == 0 and back.sh_degree == 2


def test_other_units_and_z_up_are_brought_to_y_up_metres(tmp_path, scene_factory):
    from pxr import Usd, UsdGeom

    scene = scene_factory(20, degree=0, frame="yup")
    path = tmp_path / "z.usda"
    usd.write(path, scene)
    stage = Usd.Stage.Open(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 0.01)
    stage.Save()
    back = usd.read(path)
    z_up = scene.means
    expected = 0.01 * np.stack([z_up[:, 0], z_up[:, 2], -z_up[:, 1]], 1)
    np.testing.assert_allclose(back.means, expected, atol=1e-7)
    np.testing.assert_allclose(back.log_scales, scene.log_scales + np.log(0.01), atol=1e-5)


def test_bad_files_give_one_line_errors(tmp_path, scene_factory):
    garbage = tmp_path / "g.usdc"
    garbage.write_bytes(b"not a crate file at all" * 10)
    with pytest.raises(SetsplatError, match="USD cannot open it"):
        usd.read(garbage)
    with pytest.raises(SetsplatError, match="no such file"):
        usd.read(tmp_path / "missing.usd")
    from pxr import Usd, UsdGeom

    plain = tmp_path / "plain.usda"
    stage = Usd.Stage.CreateNew(str(plain))
    UsdGeom.Xform.Define(stage, "/World")
    stage.Save()
    with pytest.raises(SetsplatError, match="no ParticleField3DGaussianSplat"):
        usd.read(plain)
    broken = tmp_path / "b.usda"
    usd.write(broken, scene_factory(4, degree=1))
    stage = Usd.Stage.Open(str(broken))
    attr = stage.GetDefaultPrim().GetAttribute("radiance:sphericalHarmonicsCoefficients")
    attr.Set(attr.Get()[:-1])
    stage.Save()
    with pytest.raises(SetsplatError, match="SH coefficients for 4 splats") as info:
        usd.read(broken)
    assert "\n" not in str(info.value)
    with pytest.raises(SetsplatError, match=r"\.usd, \.usda or \.usdc"):
        usd.write(tmp_path / "x.usdz", scene_factory(3))
