"""The capture in the viewer: each photo's camera as a frustum showing the photo,
held-out photos marked, a click on a frustum (or a pick in the list) moves the view
there, and the SfM points on or off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.view.server import Viewer, move_client, overview_camera
from setsplat.view.target import ViewTarget
from setsplat.view.viewer_camera import viewer_pose

TRAIN_COLOR = (40, 120, 255)
HELD_OUT_COLOR = (255, 120, 0)
PHOTO_WIDTH = 160  # pixels: enough to recognise the photo on its frustum
NONE, OVERVIEW = "—", "Overview (from above)"


def add_capture(viewer: Viewer, target: ViewTarget) -> None:
    """Frusta with photos, a camera list, and the SfM points toggle."""
    if target.cameras:
        _add_frusta(viewer, target)
    if target.points is not None and len(target.points[0]):
        _add_points(viewer, target.points)


def frustum_size(cameras: list[Camera]) -> float:
    """A frustum a quarter of the typical distance between neighbouring cameras."""
    centres = np.array([c.center for c in cameras])
    if len(centres) < 2:
        return 0.1
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    return float(max(np.median(gaps.min(1)), 1e-6) * 0.25)


def _add_frusta(viewer: Viewer, target: ViewTarget) -> None:
    server = viewer.server
    size = frustum_size(target.cameras)
    with server.gui.add_folder("Capture cameras"):
        held = len(target.held_out)
        server.gui.add_markdown(
            f"{len(target.cameras)} photos, {held} held out from training (orange); "
            "click a camera to look through it.")
        visible = server.gui.add_checkbox("Show cameras", initial_value=True)
        names = [c.name for c in target.cameras]
        pick = server.gui.add_dropdown("Look through", [NONE, OVERVIEW, *names],
                                       initial_value=NONE)
    frusta = [add_frustum(server, f"/cameras/{index:04d}", camera, size,
                          HELD_OUT_COLOR if camera.name in target.held_out else TRAIN_COLOR,
                          _thumbnail(target.photo(camera)))
              for index, camera in enumerate(target.cameras)]
    looking = LookThrough(viewer, target.cameras, frusta)
    looking.show(True)
    for index, frustum in enumerate(frusta):
        frustum.on_click(lambda event, i=index: looking.go(event.client, i))

    @visible.on_update
    def _(_: Any) -> None:
        looking.show(visible.value)

    @pick.on_update
    def _(event: Any) -> None:
        if pick.value == NONE or event.client is None:
            return
        looking.go(event.client, names.index(pick.value) if pick.value in names else None)
        pick.value = NONE  # picking the same camera again works too


class LookThrough:
    """Moves a browser's view into a capture camera; that camera's own frustum (its
    photo would fill the view) is hidden until the view goes elsewhere."""

    def __init__(self, viewer: Viewer, cameras: list[Camera], frusta: list[Any]):
        self.viewer, self.cameras, self.frusta = viewer, cameras, frusta
        self.current = next((i for i, c in enumerate(cameras) if c is viewer.start_camera),
                            None)
        self.shown = True

    def go(self, client: Any, index: int | None) -> None:
        """Into camera ``index``, or to the overview (None)."""
        self.current = index
        self.show(self.shown)
        if index is None:
            move_client(client, overview_camera(self.viewer.scene, self.cameras))
            self.viewer.announce("view: overview")
            return
        camera = self.cameras[index]
        move_client(client, camera)
        self.viewer.announce(f"view: through {camera.name}")

    def show(self, on: bool) -> None:
        self.shown = on
        for index, frustum in enumerate(self.frusta):
            frustum.visible = on and index != self.current


def add_frustum(server: Any, name: str, camera: Camera, size: float,
                color: tuple[int, int, int], image: np.ndarray | None = None) -> Any:
    """A camera as viser draws one: apex at the centre, the image plane ``size`` ahead,
    its faces filled (so the whole pyramid takes a click)."""
    wxyz, position = viewer_pose(camera)
    return server.scene.add_camera_frustum(
        name, fov=float(camera.fov_y), aspect=camera.width / camera.height, scale=size,
        thickness=2.0, thickness_units="screen", image=image, color=color,
        variant="filled", wxyz=tuple(wxyz), position=tuple(position))


def _thumbnail(path: Path | None) -> np.ndarray | None:
    if path is None:
        return None
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            height = max(1, round(image.height * PHOTO_WIDTH / image.width))
            return np.asarray(image.resize((PHOTO_WIDTH, height)))
    except OSError:
        return None


def _add_points(viewer: Viewer, points: tuple[np.ndarray, np.ndarray]) -> None:
    xyz, rgb = points
    low, high = np.percentile(xyz, [1, 99], axis=0)
    size = float(np.max(high - low)) / 400
    cloud = viewer.server.scene.add_point_cloud(
        "/sfm_points", points=np.asarray(xyz, np.float32),
        colors=np.clip(np.asarray(rgb) * 255, 0, 255).astype(np.uint8),
        point_size=size, visible=False)
    with viewer.server.gui.add_folder("SfM points"):
        toggle = viewer.server.gui.add_checkbox(f"Show {len(xyz):,} SfM points", False)

    @toggle.on_update
    def _(_: Any) -> None:
        cloud.visible = toggle.value
