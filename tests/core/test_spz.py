"""SPZ: the layout, stated tolerances, older versions, and gsply as the peer both ways."""

from __future__ import annotations

import gzip
import struct

import gsply
import numpy as np
import pytest

from setsplat.core.errors import SetsplatError
from setsplat.core.frames import convert_scene
from setsplat.core.io import read_scene, spz, write_scene
from setsplat.core.scene import GaussianScene


def _angle_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return 2 * np.degrees(np.arccos(np.clip(np.abs((a * b).sum(1)), 0, 1)))


def assert_within_tolerances(back: GaussianScene, truth: GaussianScene, bits: int = 12,
                             sh_atol: tuple[float, float] = (2.5 / 128, 4.5 / 128)) -> None:
    """The tolerances the codec's docstring states, in the SPZ frame."""
    assert back.frame.name == "spz"
    np.testing.assert_allclose(back.means, truth.means, atol=0.5 / (1 << bits) + 1e-6)
    np.testing.assert_allclose(back.log_scales, truth.log_scales, atol=1 / 32 + 1e-6)
    np.testing.assert_allclose(back.opacities, truth.opacities, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(back.sh[:, 0], truth.sh[:, 0], atol=0.5 / (0.15 * 255) + 1e-6)
    assert _angle_degrees(back.quats, truth.quats).max() < 0.3
    rest = np.clip(truth.sh[:, 1:], -1, 1)
    np.testing.assert_allclose(back.sh[:, 1:4], rest[:, :3], atol=sh_atol[0] + 1e-6)
    np.testing.assert_allclose(back.sh[:, 4:], rest[:, 3:], atol=sh_atol[1] + 1e-6)


def test_round_trip_within_stated_tolerances(tmp_path, scene_factory):
    scene = scene_factory(500, degree=3)
    path = tmp_path / "s.spz"
    write_scene(path, scene)
    back = read_scene(path)
    assert_within_tolerances(back, convert_scene(scene, "spz"))
    assert back.meta == {"unscaled": True, "antialiased": False}


def test_reference_quantisation(tmp_path, scene_factory):
    """Niantic's reference bits (5, 4): coarser SH, still within its own bound."""
    scene = scene_factory(300, degree=3)
    back = spz.decode(spz.encode(scene, sh_bits=(5, 4)))
    assert_within_tolerances(back, convert_scene(scene, "spz"), sh_atol=(4.5 / 128, 8.5 / 128))
    full = spz.decode(spz.encode(scene, sh_bits=(8, 8)))
    # every bit kept: half a step, but 1.0 itself clips to 127/128
    assert_within_tolerances(full, convert_scene(scene, "spz"), sh_atol=(1 / 128, 1 / 128))


def test_header_and_layout(scene_factory):
    scene = scene_factory(10, degree=1).replace(meta={"antialiased": True})
    data = spz.encode(scene)
    magic, version, n, degree, bits, flags, reserved = struct.unpack_from("<IIIBBBB", data)
    assert (magic, version, n, degree, bits, flags, reserved) == (0x5053474E, 3, 10, 1, 12, 1, 0)
    # positions 9, alpha 1, color 3, scale 3, rotation 4, SH 9 bytes per splat
    assert len(data) == 16 + 10 * (9 + 1 + 3 + 3 + 4 + 9)


def test_large_scene_gets_fewer_fractional_bits(scene_factory):
    scene = scene_factory(20, degree=0, spread=5000.0)
    data = spz.encode(scene)
    bits = data[13]
    assert bits < 12 and 5000 * (1 << bits) < (1 << 23)
    assert_within_tolerances(spz.decode(data), convert_scene(scene, "spz"), bits)


def test_reads_versions_1_and_2(scene_factory):
    """Older layouts: float16 positions (v1) and x, y, z rotation bytes (v1, v2)."""
    scene = convert_scene(scene_factory(50, degree=0), "spz")
    n = len(scene)
    q = np.roll(scene.quats.astype(np.float64), -1, axis=1)
    q *= np.where(q[:, 3:] < 0, -1, 1)
    xyz = np.clip(np.floor(q[:, :3] * 127.5 + 127.5 + 0.5), 0, 255).astype(np.uint8)
    v3 = spz.encode(scene)
    start, alphas, rotations = np.cumsum([16, 9 * n, 7 * n])
    middle = v3[alphas:rotations]  # alphas (n), colors (3n), scales (3n)
    for version, positions in ((2, v3[start:alphas]),
                               (1, scene.means.astype("<f2").tobytes())):
        header = struct.pack("<IIIBBBB", 0x5053474E, version, n, 0, 12, 0, 0)
        back = spz.decode(header + positions + middle + xyz.tobytes())
        atol = 0.5 / 4096 if version == 2 else 2e-3  # float16 at |x| <= 2
        np.testing.assert_allclose(back.means, scene.means, atol=atol)
        # x, y, z within half a step; w is rebuilt (coarse when w is small: why v3 exists)
        np.testing.assert_allclose(back.quats[:, 1:], q[:, :3], atol=0.5 / 127.5 + 1e-6)


def test_peer_gsply_reads_ours(tmp_path, scene_factory):
    scene = scene_factory(300, degree=3, seed=1)
    path = tmp_path / "ours.spz"
    spz.write(path, scene)
    theirs = gsply.read_spz(path)
    truth = convert_scene(scene, "spz")
    peer = GaussianScene(theirs.means, theirs.quats, theirs.scales, theirs.opacities,
                         np.concatenate([theirs.sh0[:, None], theirs.shN], 1), frame="spz")
    assert_within_tolerances(peer, truth)


def test_we_read_peer_gsply(tmp_path, scene_factory):
    scene = convert_scene(scene_factory(300, degree=3, seed=2), "spz")
    data = gsply.GSData(means=scene.means, scales=scene.log_scales, quats=scene.quats,
                        opacities=scene.opacity_logits, sh0=scene.sh[:, 0],
                        shN=np.ascontiguousarray(scene.sh[:, 1:]))
    path = tmp_path / "theirs.spz"
    gsply.write_spz(path, data)
    back = read_scene(path)
    assert_within_tolerances(back, scene)


@pytest.mark.parametrize("make, what", [
    (lambda good: b"", "empty"),
    (lambda good: b"not gzip at all", "gzip"),
    (lambda good: good[: len(good) // 2], "gzip"),
    (lambda good: gzip.compress(gzip.decompress(good)[:-7]), "truncated"),
    (lambda good: gzip.compress(b"XXXX" + gzip.decompress(good)[4:]), "magic"),
    (lambda good: gzip.compress(gzip.decompress(good)[:4] + b"\x09\0\0\0"
                                + gzip.decompress(good)[8:]), "version 9"),
    (lambda good: struct.pack("<II", 0x5053474E, 4) + b"\0" * 40, "version 4"),
])
def test_bad_files(tmp_path, scene_factory, make, what):
    good = tmp_path / "good.spz"
    spz.write(good, scene_factory(20))
    bad = tmp_path / "bad.spz"
    bad.write_bytes(make(good.read_bytes()))
    with pytest.raises(SetsplatError, match=what):
        read_scene(bad)
