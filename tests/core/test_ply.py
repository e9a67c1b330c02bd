"""PLY codec: exact round trips, peers' files, and every kind of broken file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from setsplat.core.errors import SetsplatError
from setsplat.core.io import _columns, ply
from setsplat.core.scene import GaussianScene

PARAMS = ("means", "quats", "log_scales", "opacity_logits", "sh")


def _assert_same(a: GaussianScene, b: GaussianScene) -> None:
    for name in PARAMS:
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_is_byte_identical(tmp_path, scene_factory, degree):
    scene = scene_factory(300, degree=degree, seed=degree)
    scene.meta.update(antialiased=True, unscaled=False)
    first, second = tmp_path / "a.ply", tmp_path / "b.ply"
    ply.write(first, scene)
    back = ply.read(first)
    _assert_same(scene, back)
    assert back.meta == scene.meta and back.frame == scene.frame
    ply.write(second, back)
    assert first.read_bytes() == second.read_bytes()
    header = first.read_bytes().split(b"end_header\n")[0].decode()
    assert "property float f_rest_0" in header if degree else "f_rest" not in header
    assert "\ncomment SplatRenderMode: mip\n" in header


@pytest.mark.parametrize("comments, antialiased", [
    (["SplatRenderMode: mip"], True),
    (["Exported from Brush", "SplatRenderMode: default"], False),
    (["antialiased 1"], True),
    (["SplatRenderMode: mip", "antialiased 0"], False),  # the last one wins
    (["Vertical axis: y"], None),
])
def test_render_mode_comments_of_other_trainers(tmp_path, scene_factory, comments,
                                                 antialiased):
    """Brush's ``SplatRenderMode`` and Postshot's ``antialiased`` in a foreign PLY."""
    path = tmp_path / "foreign.ply"
    ply.write(path, scene_factory(5, degree=0))
    head, body = path.read_bytes().split(b"end_header\n", 1)
    lines = [line for line in head.decode().splitlines() if not line.startswith("comment")]
    lines[2:2] = [f"comment {c}" for c in comments]
    path.write_bytes(("\n".join(lines) + "\nend_header\n").encode() + body)
    assert ply.read(path).meta.get("antialiased") is antialiased


def test_f_rest_is_channel_major(tmp_path, scene_factory):
    """f_rest_0..14 are red coefficients 1..15, then green, then blue (INRIA layout)."""
    scene = scene_factory(5, degree=3)
    path = tmp_path / "s.ply"
    ply.write(path, scene)
    data = path.read_bytes()
    body = np.frombuffer(data[data.index(b"end_header\n") + 11:], np.float32).reshape(5, -1)
    rest = body[:, 6:51].reshape(5, 3, 15)
    np.testing.assert_array_equal(rest.transpose(0, 2, 1), scene.sh[:, 1:])
    np.testing.assert_array_equal(body[:, 3:6], scene.sh[:, 0])


def test_normals_and_unknown_properties_are_kept(tmp_path, scene_factory):
    scene = scene_factory(20, degree=1)
    extras = {"nx": np.zeros(20, np.float32), "ny": np.zeros(20, np.float32),
              "nz": np.ones(20, np.float32), "segment": np.arange(20, dtype=np.uint8)}
    scene = scene.replace(extras=extras)
    path, again = tmp_path / "n.ply", tmp_path / "n2.ply"
    ply.write(path, scene)
    header = path.read_bytes().split(b"end_header")[0].decode().splitlines()
    props = [line.split()[-1] for line in header if line.startswith("property")]
    assert props[:6] == ["x", "y", "z", "nx", "ny", "nz"] and props[-1] == "segment"
    assert "property uchar segment" in header
    back = ply.read(path)
    assert list(back.extras) == ["nx", "ny", "nz", "segment"]
    assert back.extras["segment"].dtype == np.uint8
    np.testing.assert_array_equal(back.extras["segment"], np.arange(20))
    _assert_same(scene, back)
    ply.write(again, back)
    assert path.read_bytes() == again.read_bytes()


def _ply_text(scene: GaussianScene, fmt: str) -> bytes:
    names = [n for n, _ in ply._layout(scene)]
    header = "ply\nformat {} 1.0\nelement vertex {}\n{}end_header\n".format(
        fmt, len(scene), "".join(f"property float {n}\n" for n in names))
    table = np.empty((len(scene), len(names)), np.float32)
    sh_cols = [names.index(f"f_dc_{c}") if k == 0 else names.index(f"f_rest_{c * 15 + k - 1}")
               for k in range(16) for c in range(3)]
    table[:, :3] = scene.means
    table[:, sh_cols] = scene.sh.reshape(len(scene), -1)
    table[:, names.index("opacity")] = scene.opacity_logits
    table[:, names.index("scale_0"):names.index("scale_0") + 3] = scene.log_scales
    table[:, names.index("rot_0"):names.index("rot_0") + 4] = scene.quats
    if fmt == "ascii":
        body = "\n".join(" ".join(repr(float(v)) for v in row) for row in table) + "\n"
        return header.encode() + body.encode()
    return header.encode() + table.astype(">f4").tobytes()


@pytest.mark.parametrize("fmt", ["ascii", "binary_big_endian"])
def test_reads_ascii_and_big_endian(tmp_path, scene_factory, fmt):
    scene = scene_factory(40, degree=3)
    path = tmp_path / "other.ply"
    path.write_bytes(_ply_text(scene, fmt))
    back = ply.read(path)
    _assert_same(scene, back)
    assert back.meta == {"unscaled": True}  # a foreign file's scale is unknown


def test_reads_a_file_written_by_gsplat(tmp_path, scene_factory):
    import torch
    from gsplat.exporter import export_splats

    scene = scene_factory(100, degree=3, seed=5)
    t = scene.to_torch()
    path = tmp_path / "gsplat.ply"
    export_splats(t["means"], t["log_scales"], t["quats"], t["opacity_logits"],
                  t["sh"][:, :1], t["sh"][:, 1:], format="ply", save_to=str(path))
    back = ply.read(path)
    _assert_same(scene, back)
    assert torch.equal(torch.from_numpy(back.sh), t["sh"])


def test_gsply_reads_what_we_write_and_we_read_what_it_writes(tmp_path, scene_factory):
    gsply = pytest.importorskip("gsply")
    scene = scene_factory(120, degree=2, seed=6)
    ours = tmp_path / "ours.ply"
    ply.write(ours, scene)
    theirs = gsply.plyread(str(ours))
    np.testing.assert_array_equal(theirs.means, scene.means)
    np.testing.assert_array_equal(theirs.shN, scene.sh[:, 1:])
    np.testing.assert_array_equal(theirs.quats, scene.quats)
    written = tmp_path / "gsply.ply"
    gsply.plywrite(str(written), scene.means, scene.log_scales, scene.quats,
                   scene.opacity_logits, scene.sh[:, 0], scene.sh[:, 1:])
    _assert_same(scene, ply.read(written))


def test_point_clouds(tmp_path):
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(50, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (50, 3)).astype(np.uint8)
    table = np.empty(50, [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"),
                          ("green", "u1"), ("blue", "u1")])
    for i, c in enumerate("xyz"):
        table[c] = xyz[:, i]
    for i, c in enumerate(("red", "green", "blue")):
        table[c] = rgb[:, i]
    header = ("ply\nformat binary_little_endian 1.0\ncomment made by a scanner\n"
              "element vertex 50\nproperty float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    path = tmp_path / "points.ply"
    path.write_bytes(header.encode() + table.tobytes())
    points, colors = ply.read_points(path)
    np.testing.assert_array_equal(points, xyz)
    np.testing.assert_allclose(colors, rgb / 255, atol=1e-7)
    with pytest.raises(SetsplatError, match="point cloud, not Gaussian splats"):
        ply.read(path)


def test_elements_before_the_vertices_are_skipped(tmp_path, scene_factory):
    scene = scene_factory(10, degree=0)
    path = tmp_path / "s.ply"
    ply.write(path, scene)
    head, body = path.read_bytes().split(b"end_header\n")
    head = head.replace(b"element vertex", b"element camera 2\nproperty double fov\n"
                        b"element vertex")
    path.write_bytes(head + b"end_header\n" + np.zeros(2, "<f8").tobytes() + body)
    _assert_same(scene, ply.read(path))


def _use_numba_blocks(monkeypatch):
    """The numba path on small files: many blocks, shared out to two threads."""
    monkeypatch.setattr(_columns, "NUMBA_THRESHOLD", 1)
    monkeypatch.setattr(_columns, "BLOCK_ROWS", 128)
    monkeypatch.setattr(_columns, "THREADS", 2)


@pytest.fixture
def numba_blocks(monkeypatch):
    _use_numba_blocks(monkeypatch)


def test_numba_and_numpy_paths_agree(tmp_path, scene_factory, monkeypatch):
    scene = scene_factory(3001, degree=3, seed=9)
    slow, fast = tmp_path / "slow.ply", tmp_path / "fast.ply"
    ply.write(slow, scene)
    _use_numba_blocks(monkeypatch)
    ply.write(fast, scene)
    assert slow.read_bytes() == fast.read_bytes()
    _assert_same(scene, ply.read(fast))


def test_both_paths_normalise_foreign_quaternions_alike(tmp_path, scene_factory,
                                                         monkeypatch):
    scene = scene_factory(3001, degree=1, seed=6)
    path = tmp_path / "long.ply"
    ply.write(path, scene)
    head, body = path.read_bytes().split(b"end_header\n")
    rows = np.frombuffer(body, np.float32).reshape(3001, -1).copy()
    rows[:, -4:] *= np.linspace(0.1, 30, 3001, dtype=np.float32)[:, None]  # rot_0..3
    assert head.endswith(b"property float rot_3\n")
    path.write_bytes(head + b"end_header\n" + rows.tobytes())
    slow = ply.read(path)
    _use_numba_blocks(monkeypatch)
    fast = ply.read(path)
    assert slow.quats.tobytes() == fast.quats.tobytes()
    assert slow.quats.tobytes() != scene.quats.tobytes()  # they were rescaled
    np.testing.assert_allclose(fast.quats, scene.quats, atol=2e-7)


@pytest.mark.parametrize("column", ["x", "rot_2", "f_rest_44", "nx", "zero rotation"])
def test_numba_path_finds_bad_values(tmp_path, scene_factory, numba_blocks, column):
    """The numba read checks finiteness and quaternions in its copy; a NaN or a zero
    quaternion anywhere, in any block, gets the same answer as on the numpy path (extra
    properties may hold NaN)."""
    scene = scene_factory(3001, degree=3, seed=4)
    scene.extras["nx"] = np.zeros(3001, np.float32)
    path = tmp_path / "nan.ply"
    ply.write(path, scene)
    head, body = path.read_bytes().split(b"end_header\n")
    names = [line.split()[-1] for line in head.decode().splitlines()
             if line.startswith("property")]
    rows = np.frombuffer(body, np.float32).reshape(3001, -1).copy()
    if column == "zero rotation":
        rows[2999, [names.index(f"rot_{i}") for i in range(4)]] = 0
    else:
        rows[2999, names.index(column)] = np.nan
    path.write_bytes(head + b"end_header\n" + rows.tobytes())
    if column == "nx":
        assert np.isnan(ply.read(path).extras["nx"][2999])
        return
    with pytest.raises(SetsplatError, match="1 splats have (NaN or infinite|a zero rotation)"):
        ply.read(path)
    assert len(ply.read(path, drop_invalid=True)) == 3000


@pytest.mark.parametrize("bits", [0x7F800000, 0xFF800000, 0x7FC00000, 0xFFFFFFFF, 0x7F800001])
def test_numba_finiteness_check_knows_every_nan_and_inf(bits):
    """The check compares exponent bits: the extreme finite values pass, and +-inf and
    NaNs of any sign and payload (quiet or signalling) fail, wherever they sit."""
    from setsplat.core.io._numba_columns import _all_finite

    edge = np.array([np.finfo(np.float32).max, -np.finfo(np.float32).max,
                     np.finfo(np.float32).smallest_subnormal, -0.0, 0.0], np.float32)
    values = np.resize(edge, 999)
    assert _all_finite(values)
    for where in (0, 500, 998):
        bad = values.copy()
        bad.view(np.uint32)[where] = bits
        assert not _all_finite(bad)


# ----------------------------------------------------------------------------- bad input
@pytest.fixture
def good_file(tmp_path, scene_factory) -> Path:
    path = tmp_path / "good.ply"
    ply.write(path, scene_factory(50, degree=3))
    return path


def _broken(path: Path, how: str) -> Path:
    data = path.read_bytes()
    head, body = data.split(b"end_header\n")
    out = path.with_name(f"{how}.ply")
    if how == "truncated":
        out.write_bytes(data[: len(data) - 1000])
    elif how == "not_ply":
        out.write_bytes(b"\x89PNG\r\n\x1a\n" + data[8:])
    elif how == "no_end":
        out.write_bytes(head)
    elif how == "rest_count":  # a consistent file, but 44 f_rest is no SH degree
        rows = np.frombuffer(body, np.float32).reshape(50, -1)
        rows = np.delete(rows, 6 + 44, axis=1)
        out.write_bytes(head.replace(b"property float f_rest_44\n", b"") + b"end_header\n"
                        + rows.tobytes())
    elif how == "extra_bytes":
        out.write_bytes(data + b"\0" * 64)
    elif how == "bad_format":
        out.write_bytes(data.replace(b"binary_little_endian", b"binary_middle_endian"))
    elif how == "empty":
        out.write_bytes(b"")
    elif how == "nan":
        values = np.frombuffer(body, np.float32).copy()
        values[1] = np.nan  # y of the first splat
        out.write_bytes(head + b"end_header\n" + values.tobytes())
    return out


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", r"truncated: the header declares 50 vertices \(11800 bytes\) but only "
                      r"10800 bytes follow — the file was cut short"),
        ("not_ply", r"not a PLY file"),
        ("no_end", r"no 'end_header' line"),
        ("rest_count", r"declares 44 f_rest properties; a 3DGS PLY has 0, 9, 24 or 45"),
        ("extra_bytes", r"64 bytes follow the 50 declared vertices"),
        ("bad_format", r"unknown PLY format line"),
        ("empty", r"file is empty \(0 bytes\)"),
        ("nan", r"1 splats have NaN or infinite means"),
    ],
)
def test_broken_files_are_refused_with_a_reason(good_file, how, message):
    bad = _broken(good_file, how)
    with pytest.raises(SetsplatError, match=message) as caught:
        ply.read(bad)
    assert caught.value.path == str(bad)
    assert "\n" not in caught.value.line()


def test_drop_invalid_skips_broken_splats(good_file):
    scene = ply.read(_broken(good_file, "nan"), drop_invalid=True)
    assert len(scene) == 49 and scene.meta["dropped_invalid"] == 1


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(SetsplatError, match="no such file"):
        ply.read(tmp_path / "missing.ply")
    with pytest.raises(SetsplatError, match="is a folder"):
        ply.read(tmp_path)


def test_ascii_row_with_a_missing_value(tmp_path, scene_factory):
    path = tmp_path / "a.ply"
    text = _ply_text(scene_factory(3, degree=3), "ascii").decode().splitlines()
    text[-2] = " ".join(text[-2].split()[:-1])
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(SetsplatError, match="vertex 1 has 58 values but the header declares 59"):
        ply.read(path)


def test_disk_full_leaves_nothing_behind(tmp_path):
    """A write that runs out of room (here: a file-size limit) fails cleanly, atomically."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        import numpy as np
        from setsplat.core.errors import SetsplatError
        from setsplat.core.io import ply
        from setsplat.core.scene import GaussianScene
        n = 70000  # 4.3M values: the numba path, its threads and its pwrite blocks
        rng = np.random.default_rng(0)
        scene = GaussianScene(rng.normal(size=(n, 3)), np.tile([1.0, 0, 0, 0], (n, 1)),
                              np.zeros((n, 3)), np.zeros(n), np.zeros((n, 16, 3)))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        try:
            ply.write({str(tmp_path / "out.ply")!r}, scene)
        except SetsplatError as exc:
            print(exc.line())
            sys.exit(2)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert "no room left while writing" in result.stdout
    assert "nothing was left half-written" in result.stdout
    assert os.listdir(tmp_path) == []


def test_without_preadv_or_fallocate(tmp_path, scene_factory, monkeypatch):
    """macOS has neither os.preadv nor os.posix_fallocate: the block codec does without."""
    scene = scene_factory(3001, degree=3, seed=12)
    reference = tmp_path / "reference.ply"
    ply.write(reference, scene)
    _use_numba_blocks(monkeypatch)
    monkeypatch.delattr(os, "preadv")
    monkeypatch.delattr(os, "posix_fallocate")
    path = tmp_path / "portable.ply"
    ply.write(path, scene)
    assert path.read_bytes() == reference.read_bytes()
    _assert_same(scene, ply.read(path))


def test_a_ply_with_no_vertices_is_an_empty_scene(tmp_path, cli):
    from tests.conftest import random_scene

    path = tmp_path / "empty.ply"
    ply.write(path, random_scene(3, degree=1).subset(np.zeros(0, int)))
    scene = ply.read(path)
    assert len(scene) == 0 and scene.sh.shape == (0, 4, 3)
    assert cli("info", path).code == 0
    result = cli("export", "spz", path, "--out", tmp_path / "out")
    assert result.code == 2 and "the scene has no splats" in result.err
