"""SPZ: the layout, stated tolerances, older versions, and gsply as the peer both ways."""

from __future__ import annotations

import gzip
import struct

import gsply
import numpy as np
import pytest

from setsplat.core.errors import SetsplatError
from setsplat.core.frames import convert_scene
from setsplat.core.io import read_scene, spz
from setsplat.core.scene import GaussianScene
from tests.conftest import assert_read_refused, random_scene


def _angle_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return 2 * np.degrees(np.arccos(np.clip(np.abs((a * b).sum(1)), 0, 1)))


def assert_within_tolerances(back: GaussianScene, truth: GaussianScene, bits: int = 12,
                             sh_atol: tuple[float, float] = (2.5 / 128, 4.5 / 128),
                             version: int = 4) -> None:
    """The tolerances the codec's docstring states, in the SPZ frame."""
    assert back.frame.name == "spz"
    np.testing.assert_allclose(back.means, truth.means, atol=0.5 / (1 << bits) + 1e-6)
    np.testing.assert_allclose(back.log_scales, truth.log_scales, atol=1 / 32 + 1e-6)
    np.testing.assert_allclose(back.opacities, truth.opacities, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(back.sh[:, 0], truth.sh[:, 0], atol=0.5 / (0.15 * 255) + 1e-6)
    if version >= 3:
        assert _angle_degrees(back.quats, truth.quats).max() < 0.3
    else:  # x, y, z within half a step, w >= 0 rebuilt
        q = truth.quats * np.where(truth.quats[:, :1] < 0, -1, 1)
        np.testing.assert_allclose(back.quats[:, 1:], q[:, 1:], atol=0.5 / 127.5 + 1e-6)
    rest = np.clip(truth.sh[:, 1:], -1, 1)
    np.testing.assert_allclose(back.sh[:, 1:4], rest[:, :3], atol=sh_atol[0] + 1e-6)
    np.testing.assert_allclose(back.sh[:, 4:], rest[:, 3:], atol=sh_atol[1] + 1e-6)


@pytest.mark.parametrize("version", [2, 3, 4])
def test_round_trip_within_stated_tolerances(tmp_path, scene_factory, version):
    scene = scene_factory(500, degree=3)
    path = tmp_path / "s.spz"
    spz.write(path, scene, version=version)
    assert path.read_bytes()[:2] == (b"NG" if version == 4 else b"\x1f\x8b")
    back = read_scene(path)
    assert_within_tolerances(back, convert_scene(scene, "spz"), version=version)
    assert back.meta == {"unscaled": True, "antialiased": False}


def test_version_4_layout(scene_factory):
    """The plain 32-byte header, the stream table, and no stream for degree 0's empty SH."""
    for degree, streams in ((0, 5), (2, 6)):
        scene = scene_factory(40, degree=degree).replace(meta={"antialiased": True})
        data = spz.encode_v4(scene)
        assert struct.unpack_from("<IIIBBBBI", data) == (0x5053474E, 4, 40, degree, 12, 1,
                                                          streams, 32)
        assert data[20:32] == bytes(12)
        table = [struct.unpack_from("<QQ", data, 32 + 16 * i) for i in range(streams)]
        assert [size for _, size in table] == [360, 40, 120, 120, 160, 40 * 3 * 8][:streams]
        assert 32 + 16 * streams + sum(packed for packed, _ in table) == len(data)
        assert spz.decode(spz.encode(scene)).meta["antialiased"]


@pytest.mark.parametrize("axes", ["RDF", "LUF", "RFU"])
def test_adobe_coordinate_system_record(scene_factory, tmp_path, axes):
    """Data stored in other axes, named by Adobe's record, come back in RUB (a rotated
    family, RFU, too), after an unknown record that is skipped."""
    from setsplat.core.frames import Frame

    scene = scene_factory(200, degree=2, seed=5)
    scene = scene.replace(sh=np.clip(scene.sh, -0.5, 0.5))  # no clipping in any axes
    stored = convert_scene(scene, Frame("x", axes, 1.0, "stored"))
    data = spz.encode_v4(stored.replace(frame="spz"))  # the numbers as they are
    code = spz._STORED_AXES.index(axes)
    records = struct.pack("<II4s", 0x12340001, 4, b"skip") + struct.pack("<III", 0xADBE0003, 4,
                                                                         code)
    header = bytearray(data[:32])
    header[14] |= spz.FLAG_EXTENSIONS
    struct.pack_into("<I", header, 16, 32 + len(records))
    path = tmp_path / "adobe.spz"
    path.write_bytes(bytes(header) + records + data[32:])
    back = read_scene(path)
    truth = convert_scene(scene, "spz")
    np.testing.assert_allclose(back.means, truth.means, atol=1 / 8192 + 1e-6)
    # band 1 within its stated 2.5/128 per coefficient, mixed by the rotation: ×√3
    np.testing.assert_allclose(back.sh[:, 1:4], truth.sh[:, 1:4], atol=np.sqrt(3) * 2.5 / 128)


def test_export_facts_from_the_manifest_that_lists_the_file(tmp_path, scene_factory):
    """Units and upright come back from the manifest beside the file, only when it lists
    these exact bytes."""
    import hashlib
    import json

    path = tmp_path / "set.spz"
    spz.write(path, scene_factory(30))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = {"unscaled": False, "upright": "floor", "sha256": {"renamed.spz": digest}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert read_scene(path).meta == {"unscaled": False, "upright": "floor",
                                     "antialiased": False}
    manifest["sha256"] = {"set.spz": "0" * 64}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert read_scene(path).meta["unscaled"] is True


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


@pytest.mark.parametrize("version", [2, 3, 4])
def test_peer_gsply_reads_ours(tmp_path, scene_factory, version):
    scene = scene_factory(300, degree=3, seed=1)
    path = tmp_path / "ours.spz"
    spz.write(path, scene, version=version)
    theirs = gsply.read_spz(path)
    truth = convert_scene(scene, "spz")
    peer = GaussianScene(theirs.means, theirs.quats, theirs.scales, theirs.opacities,
                         np.concatenate([theirs.sh0[:, None], theirs.shN], 1), frame="spz")
    assert_within_tolerances(peer, truth, version=version)


@pytest.mark.parametrize("version", [3, 4])
def test_we_read_peer_gsply(tmp_path, scene_factory, version):
    scene = convert_scene(scene_factory(300, degree=3, seed=2), "spz")
    data = gsply.GSData(means=scene.means, scales=scene.log_scales, quats=scene.quats,
                        opacities=scene.opacity_logits, sh0=scene.sh[:, 0],
                        shN=np.ascontiguousarray(scene.sh[:, 1:]))
    path = tmp_path / "theirs.spz"
    gsply.write_spz(path, data, version=version)
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
    (lambda good: gzip.compress(gzip.decompress(good) + b"\0" * (2 << 20)), "more data"),
])
def test_bad_files(tmp_path, scene_factory, make, what):
    good = tmp_path / "good.spz"
    spz.write(good, scene_factory(20), version=3)
    bad = tmp_path / "bad.spz"
    bad.write_bytes(make(good.read_bytes()))
    with pytest.raises(SetsplatError, match=what):
        read_scene(bad)


def _v4_with(good: bytes, offset: int, fmt: str, value: int) -> bytes:
    data = bytearray(good)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


@pytest.mark.parametrize("make, what", [
    (lambda good: good[:20], "too short"),
    (lambda good: _v4_with(good, 8, "<I", 1 << 27), "declares"),    # count beyond the file
    (lambda good: _v4_with(good, 15, "<B", 4), "table"),            # stream count
    (lambda good: _v4_with(good, 16, "<I", 1 << 30), "table"),      # table offset
    (lambda good: _v4_with(good, 40, "<Q", 1 << 40), "declares"),   # a stream's size
    (lambda good: good[:-9], "declares"),                            # cut short
    (lambda good: good[:32 + 16 * 6] + bytes(len(good) - 32 - 16 * 6), "zstd"),
    (lambda good: _v4_with(good, 4, "<I", 5), "version 5"),
])
def test_bad_version_4_files(tmp_path, scene_factory, make, what):
    assert_read_refused(tmp_path / "bad.spz", make(spz.encode_v4(scene_factory(20, degree=1))),
                        what)


@pytest.mark.parametrize("version", [2, 3, 4])
def test_a_scene_with_no_splats_round_trips(tmp_path, version):
    """make fuzz found a version 4 file of no splats ending in ValueError (a pool of no
    threads); writing an empty scene failed the same way, and reshaping no SH."""
    spz.write(tmp_path / "empty.spz", random_scene(0), version=version)
    assert len(spz.read(tmp_path / "empty.spz")) == 0
