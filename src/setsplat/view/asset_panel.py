"""A catalog asset in the viewer: its proxy mesh on or off, the preview or full LOD, the
version's provenance, and the shots made in it as camera paths you can scrub and play
while the view follows the shot camera."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np

from setsplat.view.server import Viewer, move_client
from setsplat.view.target import AssetExtras, ShotPath
from setsplat.view.viewer_camera import viewer_pose

PATH_COLOR = (220, 30, 30)
PROXY_COLOR = (150, 200, 150)


def add_asset(viewer: Viewer, asset: AssetExtras) -> None:
    server = viewer.server
    with server.gui.add_folder(f"Asset {asset.ref}"):
        lod = server.gui.add_dropdown("Level of detail", ("full", "preview"),
                                      initial_value="full")
        proxy = server.gui.add_checkbox("Show proxy mesh", initial_value=False,
                                        disabled=asset.proxy is None,
                                        hint=None if asset.proxy is not None else
                                        "this version holds a placeholder box, no proxy")
        server.gui.add_markdown(provenance_text(asset.provenance))
    mesh = None
    if asset.proxy is not None:
        mesh = server.scene.add_mesh_simple(
            "/proxy", vertices=np.asarray(asset.proxy.vertices, np.float32),
            faces=np.asarray(asset.proxy.faces, np.uint32), color=PROXY_COLOR,
            opacity=0.6, side="double", visible=False)

    @proxy.on_update
    def _(_: Any) -> None:
        if mesh is not None:
            mesh.visible = proxy.value

    scenes = {"full": viewer.scene}

    @lod.on_update
    def _(_: Any) -> None:
        if lod.value not in scenes:
            scenes[lod.value] = asset.preview()
        viewer.show_splats(scenes[lod.value], note=f"LOD **{lod.value}**")

    if asset.shots:
        ShotPlayer(viewer, asset.shots)


def provenance_text(record: dict[str, Any]) -> str:
    """The version's provenance as a short list, then the whole record."""
    if not record:
        return "No provenance record."
    source = record.get("source", {})
    lines = [f"**Published** {record.get('published_at', '?')}",
             f"**Source** `{source.get('path', '?')}`"]
    metrics = record.get("training", {}).get("metrics") if isinstance(
        record.get("training"), dict) else None
    if isinstance(metrics, dict) and metrics.get("psnr") is not None:
        lines.append(f"**Held-out PSNR** {metrics['psnr']:.2f} dB")
    whole = json.dumps(record, indent=1, default=str)
    return "  \n".join(lines) + f"\n\n<details><summary>Provenance</summary>\n\n```json\n" \
                               f"{whole[:20000]}\n```\n</details>"


def add_shot_paths(server: Any, shots: list[ShotPath]) -> None:
    """Each shot's camera path as a curve through its cameras' centres."""
    for index, shot in enumerate(shots):
        centres = np.array([c.center for c in shot.cameras], np.float32)
        if len(centres) > 1:
            server.scene.add_spline_catmull_rom(
                f"/shots/{index:03d}_path", points=centres, color=PATH_COLOR,
                thickness=2.0, thickness_units="screen")


class ShotPlayer:
    """Each shot's path as a curve; a shot picker, a frame slider and play; the view
    (of every browser) follows the shot camera while "Follow" is on."""

    def __init__(self, viewer: Viewer, shots: list[ShotPath]):
        self.viewer = viewer
        self.shots = {s.name: s for s in shots}
        server = viewer.server
        add_shot_paths(server, shots)
        first = shots[0]
        with server.gui.add_folder("Shots"):
            self.pick = server.gui.add_dropdown("Shot", tuple(self.shots),
                                                initial_value=first.name)
            self.frame = server.gui.add_slider("Frame", first.frames[0], first.frames[-1],
                                               step=1, initial_value=first.frames[0])
            self.follow = server.gui.add_checkbox("View follows the shot camera",
                                                  initial_value=True)
            self.playing = server.gui.add_checkbox("Play", initial_value=False)
        self.pick.on_update(lambda _: self._picked())
        self.frame.on_update(lambda _: self._show_frame())
        self.playing.on_update(lambda _: self._play())
        self._thread: threading.Thread | None = None
        self._show_frame()

    @property
    def shot(self) -> ShotPath:
        return self.shots[self.pick.value]

    def _picked(self) -> None:
        shot = self.shot
        self.frame.min, self.frame.max = shot.frames[0], shot.frames[-1]
        self.frame.value = shot.frames[0]
        self._show_frame()

    def camera_at(self, frame: int) -> Any:
        shot = self.shot
        index = int(np.clip(frame - shot.frames[0], 0, len(shot.cameras) - 1))
        return shot.cameras[index]

    def _show_frame(self) -> None:
        camera = self.camera_at(int(self.frame.value))
        wxyz, position = viewer_pose(camera)
        self.viewer.server.scene.add_camera_frustum(
            "/shots/camera", fov=float(camera.fov_y), aspect=camera.width / camera.height,
            scale=0.3, color=PATH_COLOR, wxyz=tuple(wxyz), position=tuple(position))
        if self.follow.value:
            for client in self.viewer.server.get_clients().values():
                move_client(client, camera)

    def _play(self) -> None:
        if self.playing.value and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while self.playing.value:
            shot = self.shot
            started = time.monotonic()
            frame = int(self.frame.value) + 1
            self.frame.value = frame if frame <= shot.frames[-1] else shot.frames[0]
            time.sleep(max(0.0, 1 / shot.fps - (time.monotonic() - started)))
