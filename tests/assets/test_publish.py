"""Publishing: round trip through the catalog, variants that open one payload each,
preview LOD, provenance, units."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from setsplat.assets import PublishOptions, load, publish, resolve, verify
from setsplat.assets.catalog import Catalog
from setsplat.assets.thumbnails import VIEW_NAMES, renderer_available
from setsplat.assets.usd_asset import (
    LODS,
    PAYLOADS,
    REPRESENTATIONS,
    PreviewConfig,
    open_asset,
    preview_scene,
    splat_prim,
)
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import sha256_file
from setsplat.core.io import ply
from setsplat.mesh import MeshOptions
from tests.export.conftest import room_corner

pxr = pytest.importorskip("pxr")


def test_publish_list_show_load_round_trip(library, small_ply):
    path, scene = small_ply
    record = publish(path, PublishOptions(name="Set_Office", tags=("office", "Interior"),
                                          description="first pass"), library)
    assert record["ref"] == "Set_Office@1" and record["state"] == "published"
    assert record["splats"] == 3000 and record["sh_degree"] == 3
    assert record["source_sha256"] == sha256_file(path)
    second = publish(path, PublishOptions(name="Set_Office"), library)
    assert second["version"] == 2
    with Catalog(library.catalog_path) as catalog:
        assert [r["ref"] for r in catalog.versions()] == ["Set_Office@1", "Set_Office@2"]
        assert catalog.tags("Set_Office") == ["interior", "office"]
        files = {f["path"]: f for f in catalog.files(record["id"])}
    folder = library.version_dir("Set_Office", 1)
    expected = {"Set_Office.usda", "payload/splats.usdc", "payload/preview.usdc",
                "payload/mesh.usda", "provenance.json"}
    if renderer_available():
        expected |= {f"thumbnails/{view}.png" for view in VIEW_NAMES}
    assert set(files) == expected
    for relative, entry in files.items():
        assert sha256_file(folder / relative) == entry["sha256"]
    back = load("Set_Office@1", library, frame="rdf")
    assert np.array_equal(back.means, scene.means) and np.array_equal(back.sh, scene.sh)
    assert load("Set_Office@latest", library).frame.name == "yup"
    assert resolve("Set_Office", library)[0]["version"] == 2
    assert verify(library)["ok"]


def test_interface_layer_is_a_component_model(library, small_ply):
    from pxr import Usd, UsdGeom

    publish(small_ply[0], PublishOptions(name="Props_Crate", description="a crate"), library)
    _, interface = resolve("Props_Crate@1", library)
    stage = Usd.Stage.Open(str(interface), Usd.Stage.LoadNone)
    root = stage.GetDefaultPrim()
    model = Usd.ModelAPI(root)
    assert root.GetName() == "Props_Crate" and model.GetKind() == "component"
    assert model.GetAssetName() == "Props_Crate" and model.GetAssetVersion() == "1"
    assert model.GetAssetIdentifier().path == "./Props_Crate.usda"
    assert UsdGeom.GetStageUpAxis(stage) == "Y" and UsdGeom.GetStageMetersPerUnit(stage) == 1
    hint = np.asarray(UsdGeom.ModelAPI(root).GetExtentsHint())
    assert hint.shape == (2, 3) and (hint[1] > hint[0]).all()
    sets = root.GetVariantSets()
    assert sets.GetNames() == ["representation", "lod"]
    assert sets.GetVariantSet("representation").GetVariantNames() == ["mesh", "splats"]
    assert sets.GetVariantSet("lod").GetVariantNames() == ["full", "preview"]


def test_variant_switching_opens_only_the_selected_payload(library, small_ply):
    publish(small_ply[0], PublishOptions(name="Set_Office"), library)
    _, interface = resolve("Set_Office@1", library)
    folder = interface.parent
    all_payloads = {os.path.realpath(folder / p) for p in PAYLOADS.values()}
    for representation in REPRESENTATIONS:
        for lod in LODS:
            stage = open_asset(interface, representation, lod)
            used = {os.path.realpath(layer.realPath) for layer in stage.GetUsedLayers()
                    if layer.realPath}
            selected = os.path.realpath(folder / PAYLOADS[representation, lod])
            assert selected in used
            assert not (used & all_payloads) - {selected}, (representation, lod)
            assert not stage.GetCompositionErrors()
    stage = open_asset(interface, "splats", "full")
    assert len(np.asarray(splat_prim(stage).GetAttribute("positions").Get())) == 3000
    # Switching on the open stage swaps the payload too.
    root = stage.GetDefaultPrim()
    from pxr import Usd

    with Usd.EditContext(stage, stage.GetSessionLayer()):
        root.GetVariantSets().GetVariantSet("lod").SetVariantSelection("preview")
    used = {os.path.realpath(layer.realPath) for layer in stage.GetUsedLayers() if layer.realPath}
    assert os.path.realpath(folder / PAYLOADS["splats", "preview"]) in used
    assert os.path.realpath(folder / PAYLOADS["splats", "full"]) not in used


def test_preview_keeps_the_most_important_splats_with_fewer_bands(scene_factory):
    scene = scene_factory(1000, degree=3, seed=2)
    preview = preview_scene(scene, PreviewConfig(fraction=0.1, min_splats=0, sh_degree=1))
    assert len(preview) == 100 and preview.sh_degree == 1
    importance = scene.opacities * np.prod(scene.scales, axis=1)
    threshold = np.sort(importance)[-100]
    kept = importance >= threshold
    np.testing.assert_array_equal(preview.means, scene.means[kept])
    small = preview_scene(scene.subset(slice(0, 50)), PreviewConfig(min_splats=10_000))
    assert len(small) == 50 and small.sh_degree == 0


def test_half_publish_loads_within_1e3(library, small_ply):
    path, scene = small_ply
    record = publish(path, PublishOptions(name="Half_Set", half=True), library)
    assert record["half"]
    back = load("Half_Set@1", library, frame="rdf")
    np.testing.assert_allclose(back.scales, scene.scales, rtol=1e-3)
    np.testing.assert_allclose(back.opacities, scene.opacities, rtol=1e-3)


def test_training_folder_provenance(library, tmp_path, scene_factory):
    run = tmp_path / "run"
    (run / "train").mkdir(parents=True)
    (run / "sfm").mkdir()
    (run / "capture").mkdir()
    ply.write(run / "train" / "scene.ply", scene_factory(200, degree=1))
    (run / "train" / "metrics.json").write_text(json.dumps({"psnr": 28.5}))
    (run / "train" / "config.json").write_text(json.dumps({"steps": 7000}))
    (run / "sfm" / "sfm_report.json").write_text(json.dumps({"registered": 19}))
    (run / "capture" / "capture.json").write_text(json.dumps({"images": []}))
    record = publish(run / "train", PublishOptions(name="Temple"), library)
    folder = library.version_dir("Temple", 1)
    info = json.loads((folder / "provenance.json").read_text())
    assert info["training"] == {"config": {"steps": 7000}, "metrics": {"psnr": 28.5}}
    assert info["sfm_report"] == {"registered": 19}
    assert info["capture"]["sha256"] == sha256_file(run / "capture" / "capture.json")
    assert info["source"]["sha256"] == record["source_sha256"]
    assert info["software"]["usd"].startswith("0.")
    assert info["name"] == "Temple" and info["version"] == 1


def test_unscaled_scene_takes_units(library, tmp_path, scene_factory):
    scene = scene_factory(100, degree=0)
    scene.meta["unscaled"] = True
    path = tmp_path / "u.ply"
    ply.write(path, scene)
    plain = publish(path, PublishOptions(name="Loose"), library)
    assert plain["unscaled"]
    scaled = publish(path, PublishOptions(name="Loose", meters_per_unit=0.01), library)
    assert not scaled["unscaled"]
    back = load("Loose@2", library, frame="rdf")
    np.testing.assert_allclose(back.means, scene.means * 0.01, rtol=1e-6)
    assert back.meta.get("scale_applied") == 0.01
    metric = tmp_path / "m.ply"
    ply.write(metric, scene_factory(10))
    with pytest.raises(SetsplatError, match="only apply to a scene marked unscaled"):
        publish(metric, PublishOptions(name="Loose", meters_per_unit=2.0), library)


def test_failed_publish_leaves_nothing(library, small_ply, monkeypatch):
    from setsplat.assets import usd_asset

    quick = PublishOptions(name="Set_Office", thumbnails=False, mesh=None)  # the catalog's part

    publish(small_ply[0], quick, library)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(usd_asset, "write_interface", broken)
    with pytest.raises(SetsplatError, match="no room left while publishing"):
        publish(small_ply[0], quick, library)
    assert sorted(p.name for p in library.asset_dir("Set_Office").iterdir()) == ["v001"]
    with Catalog(library.catalog_path) as catalog:
        assert not catalog.pending()
    monkeypatch.undo()
    assert publish(small_ply[0], quick, library)["version"] == 2


def test_thumbnails_show_the_scene_upright(library, tmp_path):
    """Three PNGs of a red floor with a green post standing on it (RDF: y down, so the
    post reaches to smaller y): in the front view the post is above the floor."""
    pytest.importorskip("setsplat.render")
    from PIL import Image

    from setsplat.core.scene import GaussianScene
    from setsplat.core.sh import rgb_to_dc

    rng = np.random.default_rng(0)
    n, m = 4000, 1000
    floor = np.c_[rng.uniform(-2, 2, n), np.full(n, 1.5), rng.uniform(-2, 2, n)]
    post = np.c_[rng.uniform(-0.2, 0.2, m), rng.uniform(-1.0, 1.5, m), rng.uniform(-0.2, 0.2, m)]
    colors = np.r_[np.tile([1.0, 0, 0], (n, 1)), np.tile([0, 1.0, 0], (m, 1))]
    scene = GaussianScene(np.r_[floor, post], np.tile([1.0, 0, 0, 0], (n + m, 1)),
                          np.full((n + m, 3), np.log(0.08)), np.full(n + m, 4.0),
                          rgb_to_dc(colors)[:, None, :])
    path = tmp_path / "floor.ply"
    ply.write(path, scene)
    publish(path, PublishOptions(name="Floor"), library)
    folder = library.version_dir("Floor", 1) / "thumbnails"
    images = {view: np.asarray(Image.open(folder / f"{view}.png")).astype(float)
              for view in VIEW_NAMES}
    assert all(image.shape == (270, 480, 3) for image in images.values())
    front = images["front"]
    red_rows = np.nonzero(((front[..., 0] > 150) & (front[..., 1] < 80)).any(1))[0]
    green_rows = np.nonzero(((front[..., 1] > 150) & (front[..., 0] < 80)).any(1))[0]
    assert len(red_rows) and len(green_rows)
    assert green_rows.min() < red_rows.min() - 20, "the post should rise above the floor"
    top = images["top"]  # looking down: the post end-on, in the middle of the floor
    red, green = (top[..., 0] > 150) & (top[..., 1] < 80), (top[..., 1] > 150)
    assert red.mean() > 0.1 and 0 < green.mean() < 0.05
    centre = [np.mean(np.nonzero(mask)[axis]) for mask in (red, green) for axis in (0, 1)]
    np.testing.assert_allclose(centre[:2], centre[2:], atol=15)


def test_thumbnails_use_the_capture_cameras(library, tmp_path, scene_factory):
    pytest.importorskip("setsplat.render")
    from setsplat.assets import thumbnails
    from setsplat.core.camera import Camera, write_cameras

    train = tmp_path / "train"
    train.mkdir()
    ply.write(train / "scene.ply", scene_factory(500, degree=1))
    cameras = [Camera.look_at([0, 0, -6 - i], [0, 0, 0], width=960, height=540,
                              name=f"cam{i}") for i in range(5)]
    write_cameras(train / "cameras.json", cameras)
    picked = thumbnails.capture_cameras(train / "cameras.json", thumbnails.ThumbnailConfig())
    assert [c.name for c in picked] == ["cam0", "cam2", "cam4"]
    assert picked[0].width == 480 and picked[0].height == 270
    publish(train, PublishOptions(name="Captured"), library)
    assert len(list((library.version_dir("Captured", 1) / "thumbnails").glob("*.png"))) == 3


def _mesh_payload(library, ref):
    """The mesh variant as a stage composes it: is the ProxyMesh prim a placeholder, its
    points and face sizes."""
    from pxr import UsdGeom

    _, interface = resolve(ref, library)
    stage = open_asset(interface, "mesh", "full")
    assert not stage.GetCompositionErrors()
    prim = stage.GetDefaultPrim().GetChild("ProxyMesh")
    mesh = UsdGeom.Mesh(prim)
    points = np.asarray(mesh.GetPointsAttr().Get())
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
    return bool(prim.GetCustomDataByKey("setsplat:placeholder")), points, counts


def test_mesh_variant_holds_the_proxy_on_the_splats(library, tmp_path):
    path = tmp_path / "room.ply"
    ply.write(path, room_corner())
    # 2000 triangles from Poisson's 20k: the clustering-then-quadric decimation path
    record = publish(path, PublishOptions(name="Set_Corner", mesh=MeshOptions(
        triangles=2000, depth=7, orientation="outward")), library)
    assert record["mesh"] == "proxy" and record["warnings"] == []
    placeholder, points, counts = _mesh_payload(library, "Set_Corner@1")
    assert not placeholder
    assert (counts == 3).all() and len(counts) == record["mesh_triangles"]
    assert 1800 <= len(counts) <= 2000
    # in the asset's frame (Y-up metres) the surface lies on the corner's planes: the
    # floor at y = -1, the walls at x = -1 and z = -2 (RDF's y and z flipped)
    off_plane = np.abs(points - [-1.0, -1.0, -2.0]).min(1)
    assert np.median(off_plane) < 0.005 and np.quantile(off_plane, 0.95) < 0.02
    splats = load("Set_Corner@1", library).means
    low, high = points.min(0), points.max(0)
    assert np.all(low > splats.min(0) - 0.1) and np.all(high < splats.max(0) + 0.1)


def test_no_mesh_or_no_surface_publishes_the_placeholder(library, small_ply, tmp_path):
    record = publish(small_ply[0], PublishOptions(name="Boxed", mesh=None), library)
    assert record["mesh"] == "placeholder" and record["warnings"] == []
    placeholder, _, counts = _mesh_payload(library, "Boxed@1")
    assert placeholder and len(counts) == 6
    faint = room_corner()
    faint.opacity_logits[:] = -6.0  # nothing opaque enough to shape a surface
    path = tmp_path / "faint.ply"
    ply.write(path, faint)
    record = publish(path, PublishOptions(name="Faint"), library)
    assert record["mesh"] == "placeholder"
    assert len(record["warnings"]) == 1 and "opaque enough" in record["warnings"][0]
    assert _mesh_payload(library, "Faint@1")[0]


def test_exports_of_the_asset_reuse_its_proxy(library, tmp_path):
    from setsplat.export.select import Crop
    from setsplat.export.targets import ExportOptions, export, load_source
    from setsplat.mesh import read_glb

    path = tmp_path / "room.ply"
    ply.write(path, room_corner())
    mesh = MeshOptions(triangles=2000, depth=7, orientation="outward")
    publish(path, PublishOptions(name="Set_Corner", mesh=mesh, thumbnails=False), library)
    _, published, _ = _mesh_payload(library, "Set_Corner@1")
    scene, layer = load_source("Set_Corner@1", library)

    def proxy(out: str, **options) -> np.ndarray:
        export("unreal", scene, tmp_path / out, ExportOptions(
            name="set", asset_layer=layer, **{"mesh": mesh, **options}))
        # the package's GLB is in the axes Unreal's importers read; back to the asset's
        return read_glb(tmp_path / out / "set_proxy.glb").in_frame("yup").vertices

    assert np.array_equal(proxy("same"), published)  # the asset's own mesh
    other = proxy("other", mesh=MeshOptions(triangles=1000, depth=7, orientation="outward"))
    assert len(other) < len(published)  # other options: built anew
    # part of the asset (the wall at z = -2 cropped away): built anew from that part
    cropped = proxy("cropped", crop=Crop.parse("box:-2,-2,-1.9,2,2,0"))
    on_back_wall = lambda v: (np.abs(v[:, 2] + 2) < 0.05).mean()  # noqa: E731
    assert on_back_wall(published) > 0.3 and on_back_wall(cropped) < 0.05
