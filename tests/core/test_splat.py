"""The .splat codec: layout, stated tolerances, gsplat's exporter as the peer."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core import sh as shlib
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import convert_scene
from setsplat.core.io import read_scene, splat, write_scene


def test_round_trip_within_stated_tolerances(tmp_path, scene_factory):
    scene = scene_factory(400, degree=2)
    path = tmp_path / "s.splat"
    write_scene(path, scene)
    assert path.stat().st_size == 32 * len(scene)
    back = read_scene(path)
    order = splat.importance_order(scene)
    original = scene.subset(order)
    assert back.frame.name == "rdf" and back.sh_degree == 0 and back.meta["unscaled"]
    np.testing.assert_array_equal(back.means, original.means)
    np.testing.assert_allclose(back.log_scales, original.log_scales, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(back.opacities, original.opacities, atol=0.5 / 255 + 1e-7)
    rgb = shlib.dc_to_rgb(original.sh[:, 0].astype(np.float64))
    inside = ((rgb > 0) & (rgb < 1)).all(1)
    np.testing.assert_allclose(shlib.dc_to_rgb(back.sh[inside, 0]), rgb[inside],
                               atol=0.5 / 255 + 1e-6)
    # each component within 0.5/128 before renormalising: about 1° at worst
    angle = 2 * np.degrees(np.arccos(np.clip(np.abs((back.quats * original.quats).sum(1)),
                                             0, 1)))
    assert angle.max() < 1.0


def test_most_important_first(scene_factory):
    scene = scene_factory(100)
    order = splat.importance_order(scene)
    importance = np.exp(scene.log_scales.sum(1)) / (1 + np.exp(-scene.opacity_logits))
    assert np.all(np.diff(importance[order]) <= 0)


def test_other_frames_are_written_in_rdf(scene_factory):
    scene = scene_factory(50, frame="rdf")
    a = splat.encode(scene, sort=False)
    b = splat.encode(convert_scene(scene, "unreal"), sort=False)
    table_a, table_b = (np.frombuffer(x, splat.RECORD) for x in (a, b))
    np.testing.assert_allclose(table_a["position"], table_b["position"], atol=1e-5)
    np.testing.assert_allclose(table_a["scale"], table_b["scale"], rtol=1e-5)


def test_bytes_match_gsplat_exporter(scene_factory):
    """gsplat writes the same layout (it truncates where we round, and orders by Morton
    code): positions identical, scales within two float32 ulps (torch's exp against
    numpy's), bytes within one step, splat by splat."""
    from gsplat.exporter import splat2splat_bytes

    scene = scene_factory(300, degree=0, seed=3)
    t = scene.to_torch()
    theirs = np.frombuffer(splat2splat_bytes(t["means"], t["log_scales"], t["quats"],
                                             t["opacity_logits"], t["sh"][:, 0]), splat.RECORD)
    ours = np.frombuffer(splat.encode(scene, sort=False), splat.RECORD)
    assert len(theirs) == len(ours) == len(scene)
    # match splats by position (unique random floats)
    key = {row.tobytes(): i for i, row in enumerate(ours["position"])}
    index = np.array([key[row.tobytes()] for row in theirs["position"]])
    ours = ours[index]
    np.testing.assert_array_equal(theirs["position"], ours["position"])
    np.testing.assert_allclose(theirs["scale"], ours["scale"], rtol=2.4e-7, atol=0)
    for field in ("rgba", "rotation"):
        difference = ours[field].astype(int) - theirs[field].astype(int)
        assert difference.min() >= 0 and difference.max() <= 1, field


@pytest.mark.parametrize("data, what", [(b"\0" * 33, "multiple of 32"), (b"", "empty")])
def test_bad_files(tmp_path, data, what):
    path = tmp_path / "bad.splat"
    path.write_bytes(data)
    with pytest.raises(SetsplatError, match=what):
        read_scene(path)
