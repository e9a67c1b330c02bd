"""The proxy mesh of a scene with floaters (what training leaves): every file that
carries it has unit normals (the Khronos validator finds nothing in the GLBs), and the
same PLY gives the same bytes run after run."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.assets import Library, PublishOptions, publish
from setsplat.core.io import ply
from setsplat.core.scene import GaussianScene
from setsplat.export import ExportOptions, export, load_source
from setsplat.mesh import MeshOptions
from tests.export.conftest import room_corner
from tests.gltf_validator import validate

MESH = MeshOptions(triangles=2000, depth=8)


def with_floaters(clusters: int = 30, per: int = 20, seed: int = 0) -> GaussianScene:
    """The room corner plus small clumps of randomly turned splats in the room: Poisson
    wraps each in a thin shell, which decimation folds into back-to-back triangles."""
    rng = np.random.default_rng(seed)
    count = clusters * per
    clumps = room_corner(count // 3 + 1, seed=seed).subset(np.arange(count))
    centres = rng.uniform([-0.8, -0.8, 0.2], [0.8, 0.8, 1.8], (clusters, 3))
    quats = rng.normal(size=(count, 4))
    clumps = clumps.replace(
        means=(np.repeat(centres, per, 0) + rng.normal(scale=0.02, size=(count, 3)))
        .astype(np.float32),
        quats=(quats / np.linalg.norm(quats, axis=1, keepdims=True)).astype(np.float32))
    return GaussianScene.concat([room_corner(), clumps])


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("floaters") / "room.ply"
    ply.write(path, with_floaters())
    return path


def _unit(normals) -> bool:
    return bool(np.allclose(np.linalg.norm(np.asarray(normals, np.float64), axis=1), 1,
                            atol=1e-5))


def test_every_proxy_file_has_unit_normals(tmp_path, scene_file):
    from pxr import Usd, UsdGeom

    library = Library.resolve(tmp_path / "library")
    record = publish(scene_file, PublishOptions(name="Floaters", mesh=MESH,
                                                thumbnails=False), library)
    assert record["mesh"] == "proxy"
    stage = Usd.Stage.Open(str(library.version_dir("Floaters", 1) / "payload" / "mesh.usda"))
    mesh = UsdGeom.Mesh(stage.GetDefaultPrim())
    assert len(mesh.GetNormalsAttr().Get()) == len(mesh.GetPointsAttr().Get())
    assert _unit(mesh.GetNormalsAttr().Get())
    # the exports of the asset carry the proxy it was published with
    scene, layer = load_source("Floaters@1", library)
    for target in ("mesh", "unreal", "unity"):
        export(target, scene, tmp_path / target, ExportOptions(name="set", mesh=MESH,
                                                              asset_layer=layer))
        assert validate(tmp_path / target / "set_proxy.glb") == [], target
    lines = (tmp_path / "mesh" / "set_proxy.obj").read_text().splitlines()
    normals = [[float(v) for v in line.split()[1:]] for line in lines if line.startswith("vn ")]
    assert len(normals) == sum(line.startswith("v ") for line in lines)
    assert _unit(normals)


def test_the_same_scene_gives_the_same_bytes(tmp_path, scene_file):
    scene, _ = load_source(str(scene_file))
    for run in ("first", "second"):
        export("mesh", scene, tmp_path / run, ExportOptions(name="set", mesh=MESH))
    for name in ("set_proxy.glb", "set_proxy.obj", "set_proxy.usda"):
        assert (tmp_path / "first" / name).read_bytes() == \
            (tmp_path / "second" / name).read_bytes(), name
