"""An asset in the viewer: its splats in the asset's Y-up metres, the capture's cameras
brought into that frame, the preview LOD, provenance and the shots made in it."""

from __future__ import annotations

import numpy as np


def test_asset_target_brings_everything_into_the_assets_frame(trained_scan, tmp_path):
    from setsplat.assets import Library, PublishOptions, publish
    from setsplat.core.camera import read_cameras
    from setsplat.core.frames import convert_points
    from setsplat.shots import ShotOptions, new_shot
    from setsplat.view import Viewer, ViewOptions, open_target, show_target
    from setsplat.view.server import SPLATS_NODE

    library = Library.resolve(tmp_path / "library")
    publish(trained_scan, PublishOptions(name="Set_Tiny", mesh=None, thumbnails=False),
            library)
    new_shot("EP01_SH010", ShotOptions(asset="Set_Tiny@1", path="orbit", frames=12), library)

    target = open_target("Set_Tiny@1", library.root)
    assert target.scene.frame.name == "yup" and not target.unscaled
    capture = read_cameras(trained_scan.parent / "sfm" / "cameras.json")
    assert [c.name for c in target.cameras] == [c.name for c in capture]
    assert all(c.frame.name == "yup" for c in target.cameras)
    np.testing.assert_allclose([c.center for c in target.cameras],
                               convert_points(np.array([c.center for c in capture]), "rdf",
                                              "yup"), atol=1e-6)
    asset = target.asset
    assert asset.proxy is None  # published with a placeholder box
    assert asset.provenance["source"]["path"].endswith("scene.ply")
    [shot] = asset.shots
    assert shot.name == "EP01_SH010" and len(shot.cameras) == len(shot.frames) == 12
    assert len(asset.preview()) < len(target.scene)

    viewer = Viewer(ViewOptions(port=0), say=lambda _: None)
    try:
        show_target(viewer, target)
        assert viewer.shown.shown == viewer.shown.total == len(target.scene)
        assert viewer.server.scene.get_handle_by_name(SPLATS_NODE) is not None
        assert viewer.start_camera is target.cameras[0]
    finally:
        viewer.stop()
