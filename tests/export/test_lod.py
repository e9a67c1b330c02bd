"""Levels of detail and budgets: streamed SOG's index, chains of files, budget caps."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from setsplat.core.errors import SetsplatError
from setsplat.core.frames import convert_scene
from setsplat.core.io import read_scene
from setsplat.core.io.splat import importance_order
from setsplat.export import lod
from setsplat.export.targets import ExportOptions, export


def test_levels_halve_and_keep_the_most_important(room):
    levels = lod.level_indices(room, 4)
    assert [len(level) for level in levels] == [4500, 2250, 1125]  # stops at 1000
    assert set(levels[2]) == set(importance_order(room)[:1125])
    for finer, coarser in itertools.pairwise(levels):
        assert set(coarser) <= set(finer)


def test_sog_export_reads_back_with_its_facts(tmp_path, room):
    room = room.replace(meta={"unscaled": False, "upright": "floor"})
    result = export("sog", room, tmp_path, ExportOptions(name="set"))
    assert sorted(result.files) == ["README.txt", "manifest.json", "set.sog"]
    back = read_scene(tmp_path / "set.sog")
    assert back.frame.name == "rdf" and back.meta["unscaled"] is False
    assert back.meta["upright"] == "floor"
    np.testing.assert_allclose(np.sort(back.means, 0), np.sort(room.means, 0), atol=2e-4)


def test_streamed_sog(tmp_path, room):
    result = export("sog", room, tmp_path, ExportOptions(name="set", lod=3))
    meta = json.loads((tmp_path / "lod-meta.json").read_text())
    assert meta["counts"] == result.details["levels"] == [4500, 2250, 1125]
    assert meta["lodLevels"] == 3 and meta["count"] == sum(meta["counts"])
    assert all((tmp_path / name).is_file() for name in meta["filenames"])

    def leaves(node):
        return [node] if "lods" in node else [x for c in node["children"] for x in leaves(c)]

    for level, count in enumerate(meta["counts"]):
        entries = [leaf["lods"][str(level)] for leaf in leaves(meta["tree"])
                   if str(level) in leaf["lods"]]
        assert sum(e["count"] for e in entries) == count
        per_file = {}
        for e in sorted(entries, key=lambda e: (e["file"], e["offset"])):
            assert e["offset"] == per_file.get(e["file"], 0)  # rows follow on, no gaps
            per_file[e["file"]] = e["offset"] + e["count"]
        for file, rows in per_file.items():
            chunk = json.loads((tmp_path / meta["filenames"][file]).read_text())
            assert chunk["count"] == rows
    assert "Streamed SOG: 3 levels" in (tmp_path / "README.txt").read_text()


def test_chain_of_files(tmp_path, room):
    export("spz", room, tmp_path, ExportOptions(name="set", lod=2))
    first, second = read_scene(tmp_path / "set.spz"), read_scene(tmp_path / "set.lod1.spz")
    assert (len(first), len(second)) == (4500, 2250)
    kept = convert_scene(second, "rdf").means  # the more important half of the splats
    truth = room.means[lod.level_indices(room, 2)[1]]
    assert cKDTree(truth).query(kept)[0].max() <= np.sqrt(3) / 8192 + 1e-6
    assert "set.lod1.spz" in (tmp_path / "README.txt").read_text()


def test_budget_caps_the_splats(tmp_path, room, monkeypatch):
    assert lod.BUDGETS == {"desktop": 4_000_000, "mobile": 2_000_000, "quest": 1_000_000}
    monkeypatch.setitem(lod.BUDGETS, "quest", 1000)
    result = export("ply", room, tmp_path / "a", ExportOptions(budget="quest"))
    assert result.splats == 1000
    result = export("ply", room, tmp_path / "b", ExportOptions(budget="quest", max_splats=300))
    assert result.splats == 300


@pytest.mark.parametrize("options, what", [
    (ExportOptions(lod=2), "--lod applies to"),
    (ExportOptions(budget="watch"), "unknown --budget"),
])
def test_bad_options(tmp_path, room, options, what):
    with pytest.raises(SetsplatError, match=what):
        export("gltf", room, tmp_path, options)
