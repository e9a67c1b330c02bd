"""Masks ride along with their photos at ingest: found by name, turned and sized like the
stored image, recorded in capture.json; a mask that does not fit is a one-line error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from setsplat.capture.manifest import read_capture
from setsplat.core.masks import read_mask

TINY = Path(__file__).resolve().parents[2] / "sample_scans" / "tiny" / "images"


def _masks(folder: Path, names: list[str], size=(200, 150), suffix=".png") -> None:
    """White masks with a black 40x30 box at the bottom-left (crew in the corner)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        keep = np.full(size[::-1], 255, np.uint8)
        keep[-30:, :40] = 0
        Image.fromarray(keep).save(folder / f"{name}{suffix}")


def test_ingest_carries_masks_and_records_them(cli, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(TINY, photos)
    _masks(tmp_path / "masks", ["tiny_000", "tiny_001"])  # IMG.png
    _masks(tmp_path / "masks", ["tiny_002.jpg"])  # COLMAP's IMG.jpg.png
    result = cli("--json", "capture", "ingest", photos, "--out", tmp_path / "cap", "--masks",
                 tmp_path / "masks", "--max-size", "100")
    assert result.code == 0, result.err
    assert json.loads(result.out)["masks"] == 3
    capture = read_capture(tmp_path / "cap")
    masks = {im.name: im.mask for im in capture.images if im.mask}
    assert masks == {f"images/tiny_00{i}.jpg": f"masks/tiny_00{i}.png" for i in range(3)}
    keep = read_mask(tmp_path / "cap" / "masks" / "tiny_000.png", (100, 75))  # shrunk too
    assert keep[-14:, :19].sum() == 0 and keep[:-16].all() and keep[:, 21:].all()


def test_a_mask_of_the_wrong_size_is_one_line(cli, tmp_path):
    _masks(tmp_path / "masks", ["tiny_004"], size=(100, 100))
    result = cli("-q", "capture", "ingest", TINY, "--out", tmp_path / "cap", "--masks",
                 tmp_path / "masks")
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert "tiny_004.png: mask is 100x100 but its photo is 200x150" in result.err
    assert not (tmp_path / "cap").exists()
    result = cli("capture", "ingest", TINY, "--out", tmp_path / "cap", "--masks",
                 tmp_path / "nowhere")
    assert result.code == 2 and "masks folder not found" in result.err
