"""SOG: our writer and reader against the tolerances the codec states, the layout
details readers rely on, and broken files."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from setsplat.core.io import read_scene, sog, write_scene
from tests.conftest import assert_read_refused


def _angle_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 2 * np.degrees(np.arccos(np.clip(np.abs((a * b).sum(1)), 0, 1)))


def test_round_trip_within_stated_tolerances(tmp_path, scene_factory):
    scene = scene_factory(1500, degree=2, seed=3).replace(meta={"antialiased": True})
    path = tmp_path / "s.sog"
    write_scene(path, scene)
    back = read_scene(path)
    assert back.frame.name == "rdf" and back.meta == {"unscaled": True, "antialiased": True}
    order = sog.morton_order(scene.means)  # the rows' order
    truth = scene.subset(order)
    meta = json.loads(zipfile.ZipFile(path).read("meta.json"))
    step = np.subtract(meta["means"]["maxs"], meta["means"]["mins"]) / 65535
    bound = 0.5 * step * (1 + np.abs(truth.means)) * 1.001 + 1e-7
    assert np.all(np.abs(back.means - truth.means) <= bound)
    assert _angle_degrees(back.quats, truth.quats).max() < 1.0
    np.testing.assert_allclose(back.opacities, truth.opacities, atol=0.5 / 255 + 1e-6)
    for values, decoded, key in ((truth.log_scales, back.log_scales, "scales"),
                                 (truth.sh[:, 0], back.sh[:, 0], "sh0")):
        book = np.array(meta[key]["codebook"])
        nearest = book[np.abs(values[..., None] - book).argmin(-1)]
        np.testing.assert_allclose(decoded, nearest, atol=1e-6)  # the nearest entry
    assert back.sh_degree == 2 and meta["shN"]["bands"] == 2
    # the palette: every splat's SH bands are exactly one palette entry
    assert len(np.unique(back.sh[:, 1:].reshape(len(back), -1), axis=0)) <= meta["shN"]["count"]


def test_layout(scene_factory):
    """Image sizes, the quaternion tag byte, color kept under zero opacity."""
    scene = scene_factory(50, degree=1)
    scene.opacity_logits[:] = -30  # opacity byte 0: its color must survive
    files = sog.encode(scene)
    assert sorted(files) == sorted(["meta.json", "means_l.webp", "means_u.webp", "quats.webp",
                                    "scales.webp", "sh0.webp", "shN_centroids.webp",
                                    "shN_labels.webp"])
    meta = json.loads(files["meta.json"])
    assert meta["version"] == 2 and meta["count"] == 50 and len(meta["sh0"]["codebook"]) == 256
    width, height = sog.texture_size(50)
    quats = np.asarray(Image.open(io.BytesIO(files["quats.webp"])).convert("RGBA"))
    assert quats.shape == (height, width, 4) and set(quats[..., 3].ravel()[:50]) <= {
        252, 253, 254, 255}
    sh0 = np.asarray(Image.open(io.BytesIO(files["sh0.webp"])).convert("RGBA"))
    assert np.all(sh0[..., 3].ravel()[:50] == 0) and sh0[..., :3].ravel()[:150].any()
    centroids = Image.open(io.BytesIO(files["shN_centroids.webp"]))
    assert centroids.size[0] == 64 * 3


def test_codebook_keeps_rare_extremes():
    """The density-flattened quantiser: near-exact for few values, and the extremes of a
    long tail are not swallowed by the dense middle."""
    values = np.concatenate([np.linspace(-1, 1, 10_000), [8.0, 9.0]])
    centres, labels = sog.codebook(values)
    assert np.abs(centres[labels] - values).max() < 0.6
    exact, labels = sog.codebook(np.array([0.5, 0.25, 0.5]))
    np.testing.assert_array_equal(exact[labels], [0.5, 0.25, 0.5])


def test_unbundled_folder(tmp_path, scene_factory):
    scene = scene_factory(40, degree=0)
    sog.write(tmp_path / "meta.json", scene)
    back = sog.read(tmp_path / "meta.json")
    assert len(back) == 40 and back.sh_degree == 0


def _bundle(files: dict[str, bytes]) -> bytes:
    return sog._zip(files)


def _with_meta(files: dict[str, bytes], **changes) -> dict[str, bytes]:
    meta = json.loads(files["meta.json"])
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            meta[section][field] = value
        else:
            meta[section] = value
    return {**files, "meta.json": json.dumps(meta).encode()}


@pytest.mark.parametrize("make, what", [
    (lambda f: b"PK\x03\x04 broken", "ZIP"),
    (lambda f: _bundle({k: v for k, v in f.items() if k != "meta.json"}), "no meta.json"),
    (lambda f: _bundle({**f, "meta.json": b"{"}), "not JSON"),
    (lambda f: _bundle(_with_meta(f, version=1)), "version 1"),
    (lambda f: _bundle(_with_meta(f, count=10**9)), "declares"),
    (lambda f: _bundle(_with_meta(f, count=5000)), "does not fit"),
    (lambda f: _bundle(_with_meta(f, means__files=["../../etc/passwd", "means_u.webp"])),
     "in its folder"),
    (lambda f: _bundle(_with_meta(f, sh0__codebook=[0.0] * 3)), "256 finite"),
    (lambda f: _bundle({**f, "quats.webp": b"not a webp"}), "not a readable WebP"),
])
def test_bad_files(tmp_path, scene_factory, make, what):
    assert_read_refused(tmp_path / "bad.sog", make(sog.encode(scene_factory(30, degree=1))),
                        what)
