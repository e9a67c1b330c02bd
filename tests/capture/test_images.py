"""Reading any photo into upright 8-bit RGB."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from setsplat.capture.images import BadImage, load_image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_exif_transpose(tmp_path, orientation):
    pixels = np.random.default_rng(orientation).integers(0, 255, (24, 40, 3), np.uint8)
    path = tmp_path / "o.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif.tobytes())
    loaded = load_image(path)
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    np.testing.assert_array_equal(loaded.pixels, expected)
    assert loaded.rotated == (orientation >= 5)


def test_full_range_16_bit_gray_scales_by_65535(tmp_path):
    values = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g.png")
    loaded = load_image(tmp_path / "g.png")
    assert (loaded.bit_depth, loaded.value_scale) == (16, 65535)
    np.testing.assert_array_equal(loaded.pixels[..., 0], np.floor(values / 257 + 0.5))


def test_bad_files_say_why(tmp_path):
    (tmp_path / "tiny.png").write_bytes(b"")
    Image.new("RGB", (8, 8)).save(tmp_path / "small.png")
    for name, why in (("tiny.png", "empty file"), ("small.png", "too small"),
                      ("missing.png", "cannot read")):
        with pytest.raises(BadImage, match=why):
            load_image(tmp_path / name)
