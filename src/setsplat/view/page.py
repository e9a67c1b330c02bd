"""The page of ``export web``: ``index.html`` that shows the set in any browser, served
as plain static files.

The page is viser's own web client (the build shipped in the viser wheel) with the
scene recorded into it: the splats (within a budget), the shots' camera paths, and the
camera the view opens at (the capture's first camera, else a shot's first frame). It is
a page to show the set, so the tech's helpers (grid, frusta, tools) stay in the viewer.
viser's client plays such a recording with its own controls (orbit with the mouse, fly
with WASD/QE and the arrow keys) and needs nothing from the network. We write no
JavaScript: the recording is made by a viser server on a free local port, serialized by
viser, and the server is stopped.
"""

from __future__ import annotations

import os
from pathlib import Path

from setsplat.core.camera import Camera
from setsplat.core.fsutil import atomic_write
from setsplat.core.scene import GaussianScene
from setsplat.view.asset_panel import add_shot_paths
from setsplat.view.server import Viewer, ViewOptions
from setsplat.view.show import first_view
from setsplat.view.splats import DEFAULT_BUDGET
from setsplat.view.target import ShotPath, start_views

PAGE = "index.html"


class WebPage:
    """Writes the page for an export ``source`` (a scene file or ``Name@version``): the
    ``page`` hook of ``export``'s ``web`` target."""

    def __init__(self, source: str | os.PathLike, library: str | os.PathLike | None = None,
                 max_splats: int | None = DEFAULT_BUDGET):
        self.source, self.library, self.max_splats = source, library, max_splats

    def __call__(self, folder: Path, scene: GaussianScene) -> list[str]:
        cameras, shots = start_views(self.source, scene, self.library)
        write_page(Path(folder) / PAGE, scene, cameras, shots, self.max_splats)
        return [PAGE]


def write_page(path: Path, scene: GaussianScene, cameras: list[Camera],
               shots: list[ShotPath], max_splats: int | None = DEFAULT_BUDGET) -> None:
    """Record the scene in a viser server on a free local port and write viser's client
    with the recording embedded."""
    viewer = Viewer(ViewOptions(host="127.0.0.1", port=0, max_splats=max_splats,
                                floor_helpers=False), say=lambda _: None)
    try:
        viewer.show_splats(scene)
        viewer.set_start(first_view(scene, cameras, shots))
        add_shot_paths(viewer.server, shots)
        html = viewer.server.get_scene_serializer().as_html()
    finally:
        viewer.stop()
    with atomic_write(path) as f:
        f.write(html.encode("utf-8"))
