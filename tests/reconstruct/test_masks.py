"""Masks in SfM (no features on black pixels; masks undistorted beside the photos) and in
training (no loss and no metric on masked pixels)."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from setsplat.core.masks import read_mask, write_mask
from setsplat.reconstruct.train.data import load_views
from setsplat.reconstruct.train.losses import photometric_loss, psnr, ssim

TINY = Path(__file__).resolve().parents[2] / "sample_scans" / "tiny" / "images"


def test_sfm_extracts_no_features_under_masks(cli, tmp_path):
    masks = tmp_path / "masks"
    for i in range(9):  # the tenth photo has none: it keeps every pixel
        keep = np.ones((150, 200), bool)
        keep[-40:, :60] = False
        write_mask(masks / f"tiny_00{i}.jpg.png", keep)
    result = cli("--json", "reconstruct", "sfm", TINY, "-o", tmp_path / "sfm", "--masks", masks)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["masks"] == 9 and report["registered"] == 10
    import zlib  # noqa: F401  (before pycolmap, see colmap_stages.load_pycolmap)

    import pycolmap

    with contextlib.closing(pycolmap.Database.open(tmp_path / "sfm" / "distorted" /
                                                   "database.db")) as db:
        for image in db.read_all_images():
            xy = db.read_keypoints(image.image_id)[:, :2]
            inside = (xy[:, 0] < 60) & (xy[:, 1] > 110)
            assert inside.any() == (image.name == "tiny_009.jpg"), image.name
    transforms = json.loads((tmp_path / "sfm" / "transforms.json").read_text())
    with_masks = {f["file_path"]: f.get("mask_path") for f in transforms["frames"]}
    assert with_masks["images/tiny_003.jpg"] == "masks/tiny_003.jpg.png"
    assert with_masks["images/tiny_009.jpg"] is None
    with Image.open(tmp_path / "sfm" / "images" / "tiny_003.jpg") as photo:
        keep = read_mask(tmp_path / "sfm" / "masks" / "tiny_003.jpg.png", photo.size)
    assert 0.89 < keep.mean() < 0.93  # 1 - 60*40/(200*150) = 0.92, less a warped border
    assert not keep[-30:, 5:50].any() and keep[:80].all()


def test_masked_pixels_give_no_loss_and_no_metric():
    rng = torch.Generator().manual_seed(0)
    truth = torch.rand(24, 32, 3, generator=rng)
    render = truth.clone().requires_grad_(True)
    mask = torch.ones(24, 32)
    mask[:, :10] = 0
    with torch.no_grad():
        render[:, :10] = 1 - truth[:, :10]  # wrong only where masked
    assert psnr(render.detach(), truth, mask) == float("inf")
    assert float(ssim(render.detach(), truth, weights=mask)) > 0.9
    loss = photometric_loss(render, truth, 0.2, mask)
    loss.backward()
    assert render.grad[:, :5].abs().max() == 0  # beyond the SSIM window's reach
    full = photometric_loss(render.detach(), truth, 0.2, torch.ones(24, 32))
    assert float(full) == pytest.approx(float(photometric_loss(render.detach(), truth, 0.2)))


def test_training_views_read_masks_at_their_size(known_capture, tmp_path):
    from setsplat.core.camera import read_cameras

    sfm = tmp_path / "sfm"
    shutil.copytree(known_capture / "sfm", sfm)
    keep = np.ones((48, 64), bool)
    keep[:, :32] = False
    write_mask(sfm / "masks" / "view_002.png.png", keep)
    views = load_views(read_cameras(sfm / "cameras.json"), sfm / "images", 2, 0, sfm / "masks")
    masks = {v.camera.name: v.mask for v in views.train}
    assert masks["view_001.png"] is None
    assert masks["view_002.png"].shape == (24, 32)
    assert masks["view_002.png"][:, :16].max() == 0 and masks["view_002.png"][:, 16:].min() == 1
