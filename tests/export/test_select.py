"""Crop syntax and semantics, importance decimation, SH degree."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core.errors import SetsplatError
from setsplat.export.select import Crop, decimate, select


def test_box_and_sphere(scene_factory):
    scene = scene_factory(500)
    box = select(scene, region=Crop.parse("box:-1,-1,-1,1,1,0.5"))
    assert len(box) and np.all((box.means >= [-1, -1, -1]) & (box.means <= [1, 1, 0.5]))
    sphere = select(scene, region=Crop.parse("sphere:0.5,0,0,1"))
    assert len(sphere) and np.all(np.linalg.norm(sphere.means - [0.5, 0, 0], axis=1) <= 1)
    inside = np.linalg.norm(scene.means.astype(np.float64) - [0.5, 0, 0], axis=1) <= 1
    assert len(sphere) == int(inside.sum())


@pytest.mark.parametrize("text", ["box:1,2,3", "cube:0,0,0,1", "sphere:0,0,0,-1",
                                  "box:0,0,0,0,1,1", "sphere:a,b,c,d", "box"])
def test_bad_crop(text):
    with pytest.raises(SetsplatError, match="bad --crop"):
        Crop.parse(text)


def test_crop_keeping_nothing_says_where_the_scene_is(scene_factory):
    with pytest.raises(SetsplatError, match="keeps no splats.*spans"):
        select(scene_factory(50), region=Crop.parse("sphere:100,100,100,1"))


def test_decimation_keeps_the_most_important(scene_factory):
    scene = scene_factory(1000)
    kept = decimate(scene, 100)
    importance = np.exp(scene.log_scales.sum(1)) / (1 + np.exp(-scene.opacity_logits))
    threshold = np.sort(importance)[-100]
    assert len(kept) == 100
    assert np.all(np.exp(kept.log_scales.sum(1)) / (1 + np.exp(-kept.opacity_logits))
                  >= threshold * (1 - 1e-6))
    assert decimate(scene, 5000) is scene


def test_sh_degree(scene_factory):
    assert select(scene_factory(10, degree=3), sh_degree=1).sh_degree == 1
    assert select(scene_factory(10, degree=0), sh_degree=2).sh_degree == 2
