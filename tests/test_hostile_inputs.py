"""Files someone hands us cannot read outside their folder or make us allocate without
end: every path read from a file is resolved and must stay in its folder, and every
declared size is checked before anything is allocated."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from setsplat.core.camera import Camera, write_cameras
from setsplat.core.errors import SetsplatError
from setsplat.core.io import gltf, ply
from tests.conftest import random_scene


@pytest.fixture
def outside(tmp_path):
    """A secret file beside (not inside) the folder we are handed, and that folder."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(36, dtype=np.float32).tobytes())
    handed = tmp_path / "handed"
    handed.mkdir()
    return secret, handed


# ----- paths ------------------------------------------------------------------------------
def test_transforms_json_frames_stay_in_their_folder(outside):
    from setsplat.reconstruct.transforms_json import read_transforms

    secret, handed = outside
    (handed / "link.png").symlink_to(secret)
    frame = {"transform_matrix": np.eye(4).tolist(), "fl_x": 100, "w": 64, "h": 48}
    for file_path in ("../secret.bin", str(secret), "link.png", "sub/../../secret.bin"):
        (handed / "transforms.json").write_text(json.dumps(
            {"frames": [{**frame, "file_path": file_path}]}))
        with pytest.raises(SetsplatError, match="points outside") as caught:
            read_transforms(handed / "transforms.json")
        assert caught.value.path == str(handed / "transforms.json")


def _gltf_with_buffer(path, uri, length=144):
    """A glTF of 3 splats whose one buffer is ``uri``."""
    document = {
        "asset": {"version": "2.0"}, "buffers": [{"uri": uri, "byteLength": length}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
        "meshes": [{"primitives": [{"mode": 0, "attributes": {
            "POSITION": 0, gltf.ROTATION: 0, gltf.SCALE: 0, gltf.OPACITY: 0, "COLOR_0": 0},
            "extensions": {gltf.EXTENSION: {}}}]}],
        "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}],
    }
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("uri", ["../secret.bin", "{secret}", "file://{secret}", "link.bin",
                                 "zero.bin", "%2e%2e/secret.bin"])
def test_gltf_buffers_stay_in_their_folder(outside, uri):
    secret, handed = outside
    (handed / "link.bin").symlink_to(secret)
    (handed / "zero.bin").symlink_to("/dev/zero")
    _gltf_with_buffer(handed / "s.gltf", uri.format(secret=secret))
    with pytest.raises(SetsplatError) as caught:
        gltf.read(handed / "s.gltf")
    assert "outside" in caught.value.what or "not a file beside" in caught.value.what


def test_gltf_buffers_read_no_more_than_declared(tmp_path):
    (tmp_path / "big.bin").write_bytes(b"\0" * 1000)
    _gltf_with_buffer(tmp_path / "s.gltf", "big.bin", length=2000)
    with pytest.raises(SetsplatError, match="fewer than the 2000 declared"):
        gltf.read(tmp_path / "s.gltf")


def test_capture_manifest_names_stay_in_the_capture(outside):
    from setsplat.capture.manifest import read_capture

    _, handed = outside
    image = {"name": "../secret.bin", "source": "a.jpg", "sha256": "0", "width": 64,
             "height": 48, "source_size": [64, 48], "bit_depth": 8, "camera": {},
             "intrinsics_prior": None, "timestamp": None, "timestamp_source": None}
    (handed / "capture.json").write_text(json.dumps(
        {"version": 1, "kind": "photos", "source": "x", "images": [image]}))
    with pytest.raises(SetsplatError, match="points outside"):
        read_capture(handed)


def test_training_camera_names_stay_in_the_images_folder(outside):
    from setsplat.reconstruct.train.data import load_views

    _, handed = outside
    camera = Camera.look_at([0, 0, -3.0], [0, 0, 0], width=64, height=48,
                            name="../../secret.bin")
    with pytest.raises(SetsplatError, match="points outside"):
        load_views([camera], handed / "images", 1, 0)


def test_colmap_image_names_stay_in_the_images_folder(outside, tmp_path, cli):
    from setsplat.reconstruct.colmap_io import model_from_cameras, write_model

    _, handed = outside
    (handed / "images").mkdir()
    cameras = [Camera.look_at([np.cos(a), 0, np.sin(a)], [0, 0, 0], width=64, height=48,
                              name=f"img{i}.png") for i, a in enumerate((0.0, 1.0, 2.0))]
    cameras[1].name = "../../secret.bin"
    write_model(handed / "sparse", model_from_cameras(cameras))
    result = cli("reconstruct", "import", handed / "sparse", "--out", tmp_path / "out")
    assert result.code == 2
    assert "image name '../../secret.bin' points outside" in result.err
    assert not (tmp_path / "out").exists()


# ----- declared sizes ---------------------------------------------------------------------
def test_colmap_points_claiming_2_to_the_60(tmp_path):
    from setsplat.reconstruct.colmap_io import _read_points_bin

    data = struct.pack("<Q", 1 << 60) + b"\0" * 100
    with pytest.raises(SetsplatError, match="declares 1152921504606846976 points"):
        _read_points_bin(data, tmp_path / "points3D.bin")


def _png_header_only(path, width, height):
    """A PNG that declares ``width`` x ``height`` and holds one tiny compressed row."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1)))
                     + chunk(b"IEND", b""))


def test_an_image_claiming_12000_squared_is_never_decoded(tmp_path):
    from setsplat.capture.images import BadImage, load_image
    from setsplat.core.limits import open_image

    _png_header_only(tmp_path / "huge.png", 12000, 12000)
    with pytest.raises(SetsplatError, match="12000x12000 pixels is out of range"):
        open_image(tmp_path / "huge.png")
    with pytest.raises(BadImage, match="implausibly large"):
        load_image(tmp_path / "huge.png")


def test_capture_check_refuses_the_huge_image(tmp_path):
    from setsplat.capture.check import _thumbnail

    _png_header_only(tmp_path / "huge.png", 12000, 12000)
    thumb, why = _thumbnail(tmp_path / "huge.png", need_scores=False)
    assert thumb is None and "12000x12000 pixels is out of range" in why


def test_render_of_a_100000_pixel_camera_is_refused(tmp_path, cli):
    ply.write(tmp_path / "scene.ply", random_scene(20))
    camera = Camera.look_at([0, 0, -3.0], [0, 0, 0], width=64, height=48).to_dict()
    camera.update(width=100_000, height=100_000)
    (tmp_path / "cameras.json").write_text(json.dumps({"cameras": [camera]}))
    result = cli("render", tmp_path / "scene.ply", "--cameras", tmp_path / "cameras.json",
                 "--out", tmp_path / "out")
    assert result.code == 2
    assert "100000x100000 pixels is out of range" in result.err
    assert not (tmp_path / "out").exists()


# ----- malformed structure ----------------------------------------------------------------
def _splat_gltf(tmp_path, change):
    gltf.write(tmp_path / "s.gltf", random_scene(5, degree=0))
    document = json.loads((tmp_path / "s.gltf").read_text())
    change(document)
    (tmp_path / "s.gltf").write_text(json.dumps(document))
    return tmp_path / "s.gltf"


@pytest.mark.parametrize("change, what", [
    (lambda d: d["nodes"][0].update(children=[0]), "reached twice"),
    (lambda d: d["nodes"][0].update(matrix=[1, 0, 0]), "matrix must be 16"),
    (lambda d: d["buffers"][0].update(uri="data:application/octet-stream;base64"),
     "not base64 data"),
    (lambda d: d["buffers"][0].update(uri="data:application/octet-stream;base64,@@@"),
     "damaged base64"),
    (lambda d: d.update(buffers=7), "malformed"),
    (lambda d: d["bufferViews"][0].update(byteStride=1), "byteStride 1 is out of range"),
])
def test_malformed_gltf_is_one_line(tmp_path, change, what):
    with pytest.raises(SetsplatError, match=what):
        gltf.read(_splat_gltf(tmp_path, change))


def test_cameras_json_with_non_finite_values(tmp_path):
    from setsplat.core.camera import read_cameras

    camera = Camera.look_at([0, 0, -3.0], [0, 0, 0], width=64, height=48)
    write_cameras(tmp_path / "c.json", [camera])
    data = json.loads((tmp_path / "c.json").read_text())
    data["cameras"][0]["fx"] = "nan"
    (tmp_path / "c.json").write_text(json.dumps(data))
    with pytest.raises(SetsplatError, match="focal length must be positive"):
        read_cameras(tmp_path / "c.json")


def test_spz_inflates_no_further_than_its_header_declares(tmp_path):
    import gzip
    import tracemalloc

    from setsplat.core.io import spz

    header = spz.LEGACY_HEADER.pack(spz.MAGIC, 3, 10, 0, 12, 0, 0)
    (tmp_path / "bomb.spz").write_bytes(gzip.compress(header + b"\0" * (50 << 20)))
    tracemalloc.start()
    try:
        with pytest.raises(SetsplatError, match="more data than the 10 splats the header declares"):
            spz.read(tmp_path / "bomb.spz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak

    claims = spz.LEGACY_HEADER.pack(spz.MAGIC, 3, 1 << 27, 3, 12, 0, 0)
    (tmp_path / "claims.spz").write_bytes(gzip.compress(claims))
    with pytest.raises(SetsplatError, match="more than a file of this size can hold"):
        spz.read(tmp_path / "claims.spz")


def test_a_shot_of_100_million_frames_is_refused():
    from setsplat.shots.model import Shot

    with pytest.raises(SetsplatError, match="100000000 frames is too many"):
        Shot("EP01_SH010", "Set@1", {"kind": "preset"}, frame_start=1001,
             frame_end=1001 + 100_000_000 - 1)


def test_names_from_files_cannot_break_the_error_line():
    error = SetsplatError("image 'a\nb\x1b[2J.png' is missing", "check it", "model/images.bin")
    assert error.line() == ("model/images.bin: image 'a\\x0ab\\x1b[2J.png' is missing — "
                            "check it")


def test_colmap_text_keypoints_must_be_triples(tmp_path):
    from setsplat.reconstruct.colmap_io import read_model

    (tmp_path / "cameras.txt").write_text("1 PINHOLE 64 48 50 50 32 24\n")
    (tmp_path / "images.txt").write_text("1 1 0 0 0 0 0 0 1 a.png\n1.0 2.0\n")
    with pytest.raises(SetsplatError, match="not x, y, id triples"):
        read_model(tmp_path)

