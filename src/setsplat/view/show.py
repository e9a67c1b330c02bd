"""``setsplat view``: a target in the browser with everything that came with it, served
until Ctrl-C."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from setsplat.core.camera import Camera
from setsplat.core.scene import GaussianScene
from setsplat.view.server import Viewer, ViewOptions, overview_camera
from setsplat.view.target import ShotPath, ViewTarget, open_target


def view(target: str | os.PathLike, options: ViewOptions | None = None,
         library: str | os.PathLike | None = None,
         say: Callable[[str], None] = print) -> Viewer:
    """Open TARGET and serve it; returns the running viewer (``viewer.stop()`` ends it).
    Bad input fails before the server starts, so nothing is left running."""
    opened = open_target(target, library)
    viewer = Viewer(options, say=say)
    try:
        show_target(viewer, opened)
    except BaseException:
        viewer.stop()
        raise
    return viewer


def show_target(viewer: Viewer, target: ViewTarget) -> None:
    from setsplat.view.asset_panel import add_asset
    from setsplat.view.coverage import add_coverage
    from setsplat.view.frusta import add_capture
    from setsplat.view.tools import CropTool, MeasureTool

    viewer.show_splats(target.scene)
    viewer.set_start(start_camera(target))
    add_capture(viewer, target)
    if target.coverage is not None:
        add_coverage(viewer, target.coverage)
    if target.asset is not None:
        add_asset(viewer, target.asset)
    CropTool(viewer)
    MeasureTool(viewer)


def start_camera(target: ViewTarget) -> Camera:
    shots = target.asset.shots if target.asset is not None else []
    return first_view(target.scene, target.cameras, shots)


def first_view(scene: GaussianScene, cameras: list[Camera], shots: list[ShotPath]) -> Camera:
    """Where the view opens: the capture's first camera, else a shot's first frame, else
    a view over the set from above one corner."""
    if cameras:
        return cameras[0]
    if shots:
        return shots[0].cameras[0]
    return overview_camera(scene)


def serve_forever(viewer: Viewer) -> None:
    """Serve until Ctrl-C (or SIGTERM), then stop the server cleanly."""
    import signal

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        viewer.stop()
