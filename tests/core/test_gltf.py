"""glTF/GLB with KHR_gaussian_splatting: round trip, spec conventions, the Khronos
validator, foreign layouts (node transforms, quantised attributes)."""

from __future__ import annotations

import json

import numpy as np
import pygltflib
import pytest

from setsplat.core import sh as shlib
from setsplat.core.color import srgb_to_linear
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import convert_scene
from setsplat.core.io import gltf, read_scene, write_scene
from tests.gltf_validator import validate


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_round_trip_is_float_exact(tmp_path, scene_factory, suffix):
    scene = scene_factory(300, degree=3).replace(meta={"unscaled": False, "source": "x"})
    path = tmp_path / f"s{suffix}"
    write_scene(path, scene)
    back = read_scene(path)
    truth = convert_scene(scene, "yup")
    assert back.frame.name == "yup" and back.meta == scene.meta
    np.testing.assert_array_equal(back.means, truth.means)
    np.testing.assert_array_equal(back.sh, truth.sh)
    np.testing.assert_array_equal(back.quats, truth.quats)
    np.testing.assert_allclose(back.log_scales, truth.log_scales, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(back.opacities, truth.opacities, atol=6e-8)
    assert validate(path) == []


def test_spec_conventions(tmp_path, scene_factory):
    """Linear scale, opacity after the sigmoid, xyzw rotation, Y-up metres, POINTS."""
    scene = scene_factory(20, degree=1, frame="unreal")  # centimetres, Z up
    path = tmp_path / "s.glb"
    gltf.write(path, scene)
    document = pygltflib.GLTF2().load(str(path))
    primitive = document.meshes[0].primitives[0]
    assert primitive.mode == 0 and document.extensionsUsed == ["KHR_gaussian_splatting"]
    assert primitive.extensions["KHR_gaussian_splatting"]["kernel"] == "ellipse"
    assert primitive.extensions["KHR_gaussian_splatting"]["colorSpace"] == "srgb_rec709_display"
    blob = document.binary_blob()

    def values(name: str, width: int) -> np.ndarray:
        accessor = document.accessors[getattr(primitive.attributes, name)]
        view = document.bufferViews[accessor.bufferView]
        return np.frombuffer(blob, "<f4", accessor.count * width, view.byteOffset).reshape(
            accessor.count, width)

    yup = convert_scene(scene, "yup")
    # Unreal (F, R, U) in cm -> glTF (R, U, B) in m
    expected = scene.means[:, [1, 2, 0]] * [0.01, 0.01, -0.01]
    np.testing.assert_allclose(values("POSITION", 3), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(values("KHR_gaussian_splatting:SCALE", 3), yup.scales,
                               rtol=1e-6)
    np.testing.assert_allclose(values("KHR_gaussian_splatting:OPACITY", 1)[:, 0],
                               yup.opacities, atol=1e-7)
    np.testing.assert_array_equal(values("KHR_gaussian_splatting:ROTATION", 4),
                                  yup.quats[:, [1, 2, 3, 0]])
    names = [n for n in vars(primitive.attributes) if n.startswith("KHR_gaussian_splatting:SH")]
    assert sorted(names) == sorted(["KHR_gaussian_splatting:SH_DEGREE_0_COEF_0"]
                                   + [f"KHR_gaussian_splatting:SH_DEGREE_1_COEF_{i}"
                                      for i in range(3)])


def test_color_0_is_linear(tmp_path, scene_factory):
    """COLOR_0 is a core glTF attribute, linear by glTF's definition; the splats' display
    sRGB DC color is decoded into it (sRGB 0.5 is linear 0.2140), and a file with only
    COLOR_0 reads back as the display color."""
    scene = convert_scene(scene_factory(3, degree=0), "yup")
    display = np.array([[0.5, 0.04, 1.0], [0.2, 0.8, 0.0], [0.735357, 0.1, 0.3]])
    scene = scene.replace(sh=shlib.rgb_to_dc(display)[:, None].astype(np.float32))
    path = tmp_path / "s.glb"
    gltf.write(path, scene)
    document = pygltflib.GLTF2().load(str(path))
    accessor = document.accessors[document.meshes[0].primitives[0].attributes.COLOR_0]
    view = document.bufferViews[accessor.bufferView]
    color = np.frombuffer(document.binary_blob(), "<f4", 12, view.byteOffset).reshape(3, 4)
    expected = [[0.2140411, 0.04 / 12.92, 1.0], [0.0331048, 0.6038273, 0.0],
                [0.5, 0.0100228, 0.0732390]]
    np.testing.assert_allclose(color[:, :3], expected, atol=2e-6)
    np.testing.assert_allclose(color[:, 3], scene.opacities, atol=1e-7)
    # without SH the reader takes the color from COLOR_0: back to display sRGB
    builder = gltf.GltfBuilder()
    builder.mesh({"POSITION": builder.accessor(scene.means, bounds=True),
                  "COLOR_0": builder.accessor(color),
                  gltf.ROTATION: builder.accessor(np.roll(scene.quats, -1, axis=1)),
                  gltf.SCALE: builder.accessor(scene.scales.astype(np.float32)),
                  gltf.OPACITY: builder.accessor(color[:, 3].copy())},
                 mode=gltf.POINTS, extensions={gltf.EXTENSION: dict(gltf.EXTENSION_OBJECT)})
    builder.save(tmp_path / "colors_only.glb")
    np.testing.assert_allclose(read_scene(tmp_path / "colors_only.glb").colors, display,
                               atol=2e-6)


def test_node_transform_and_quantised_attributes(tmp_path, scene_factory):
    """A foreign file: splats under a translated, scaled node, rotation as normalised
    int16 and opacity as normalised uint8, no SH (COLOR_0 only)."""
    scene = convert_scene(scene_factory(40, degree=0), "yup")
    builder = gltf.GltfBuilder()
    quats = np.roll(scene.quats, -1, axis=1)
    attributes = {
        "POSITION": builder.accessor(scene.means, bounds=True),
        "COLOR_0": builder.accessor(np.concatenate([srgb_to_linear(scene.colors),
                                                    scene.opacities[:, None]],
                                                   1).astype(np.float32)),
        gltf.ROTATION: builder.accessor(np.round(quats * 32767).astype(np.int16),
                                        normalized=True),
        gltf.SCALE: builder.accessor(scene.scales.astype(np.float32)),
        gltf.OPACITY: builder.accessor(np.round(scene.opacities * 255).astype(np.uint8),
                                       normalized=True),
    }
    builder.mesh(attributes, mode=gltf.POINTS,
                 extensions={gltf.EXTENSION: dict(gltf.EXTENSION_OBJECT)})
    document = json.loads(builder.to_bytes(binary=False))
    document["nodes"][0].update(translation=[1.0, 2.0, 3.0], scale=[2.0, 2.0, 2.0])
    path = tmp_path / "foreign.gltf"
    path.write_text(json.dumps(document))
    back = read_scene(path)
    assert back.meta == {"unscaled": True}
    np.testing.assert_allclose(back.means, scene.means * 2 + [1, 2, 3], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(back.log_scales, scene.log_scales + np.log(2), atol=1e-5)
    np.testing.assert_allclose(back.opacities, scene.opacities, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(np.abs((back.quats * scene.quats).sum(1)), 1, atol=1e-6)
    np.testing.assert_allclose(back.colors, scene.colors, atol=1e-6)


@pytest.mark.parametrize("content, what", [
    (b"", "empty"),
    (b"glTF\x02\0\0\0\xff\xff\0\0", "truncated"),
    (b"{not json", "not a glTF"),
    (json.dumps({"asset": {"version": "2.0"}, "meshes": []}).encode(), "no primitive uses"),
])
def test_bad_files(tmp_path, content, what):
    path = tmp_path / "bad.glb"
    path.write_bytes(content)
    with pytest.raises(SetsplatError, match=what):
        read_scene(path)
