"""Exports from catalog assets (`Name@version`): USD, USDZ and a file format."""

from __future__ import annotations

import json
import zipfile

import numpy as np

from setsplat.core.frames import convert_scene
from setsplat.core.io import ply, spz


def _publish(cli, tmp_path, scene_factory):
    scene = scene_factory(400, degree=2, seed=21)
    source = tmp_path / "set.ply"
    ply.write(source, scene)
    library = tmp_path / "library"
    result = cli("-q", "assets", "publish", source, "--name", "Set_Office", "--library", library,
                 "--no-thumbnails")
    assert result.code == 0, result.err
    return scene, library


def _composition_errors(path) -> list:
    from pxr import Usd

    stage = Usd.Stage.Open(str(path))
    return [e for e in stage.GetCompositionErrors()] if stage else ["did not open"]


def test_usd_and_usdz_from_an_asset(cli, tmp_path, scene_factory):
    _, library = _publish(cli, tmp_path, scene_factory)
    for target in ("usd", "usdz"):
        out = tmp_path / target
        result = cli("-q", "export", target, "Set_Office@1", "--out", out, "--library", library)
        assert result.code == 0, result.err
        manifest = json.loads((out / "manifest.json").read_text())
        suffixes = (".usdz",) if target == "usdz" else (".usd", ".usda", ".usdc")
        files = [f for f in manifest["files"] if f.endswith(suffixes)]
        assert files, manifest
        assert _composition_errors(out / files[0]) == []
    usdz = next((tmp_path / "usdz").glob("*.usdz"))
    with zipfile.ZipFile(usdz) as archive:
        names = archive.namelist()
    assert names[0].endswith(".usda") or names[0].endswith(".usdc")  # the root layer first


def test_spz_from_an_asset_holds_the_same_splats(cli, tmp_path, scene_factory):
    scene, library = _publish(cli, tmp_path, scene_factory)
    out = tmp_path / "web"
    result = cli("-q", "export", "spz", "Set_Office@latest", "--out", out, "--library", library)
    assert result.code == 0, result.err
    back = convert_scene(spz.read(next(out.glob("*.spz"))), "rdf")
    # SPZ quantises positions to 1/4096 (or coarser); the order is kept
    assert len(back) == len(scene)
    np.testing.assert_allclose(back.means, scene.means, atol=2 / 4096)
