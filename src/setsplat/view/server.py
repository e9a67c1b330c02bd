"""The viewer server: viser on a local port, the browser drawing the splats.

viser serves its own web client (shipped in its wheel) and talks to each browser over a
websocket; the browser sorts and draws the splats with WebGL, so the server needs no GPU.
The scene is shown in its own frame and units (the numbers a crop box or a measurement
prints are the ones ``export`` takes), with the browser's up set to the frame's up.
"""

from __future__ import annotations

import contextlib
import io
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.scene import GaussianScene
from setsplat.view.splats import DEFAULT_BUDGET, SplatArrays, splat_arrays
from setsplat.view.viewer_camera import VIEWER_CAMERA_AXES, viewer_pose

SPLATS_NODE = "/splats"
OVERVIEW_SIZE = (1280, 720)  # the overview camera's image shape (its aspect)


@dataclass
class ViewOptions:
    host: str = "127.0.0.1"
    port: int = 8080          # 0: any free port
    max_splats: int | None = DEFAULT_BUDGET  # None: every splat
    crop_file: Path | None = None  # where the crop tool saves its --crop argument
    floor_helpers: bool = True     # the floor grid and the scale bar


def start_server(host: str, port: int) -> Any:
    """A viser server on exactly ``host:port`` (viser would quietly take the next free
    port; a tech who asked for a port wants that one or an error)."""
    import viser

    try:
        with _quiet_viser():
            server = viser.ViserServer(host=host, port=port, verbose=False)
    except OSError as exc:
        raise SetsplatError(f"cannot serve on {host}:{port} ({exc.strerror or exc})",
                            "give another --host or --port") from None
    if port and server.get_port() != port:
        stop_server(server)
        raise SetsplatError(f"port {port} on {host} is in use",
                            "give another --port (0 picks a free one) or stop what uses it")
    server.gui.configure_theme(show_logo=False, show_share_button=False)
    server.gui.main_panel.dock_right()  # beside the view, not over it
    return server


class Viewer:
    """One scene in the browser: its splats within a budget, upright, on a floor grid, with
    a scale bar; other parts (cameras, tools, asset panels, training curves) add to it."""

    def __init__(self, options: ViewOptions | None = None,
                 say: Callable[[str], None] = print):
        self.options = options or ViewOptions()
        self.say = say
        self.server = start_server(self.options.host, self.options.port)
        self.scene: GaussianScene | None = None
        self.shown: SplatArrays | None = None
        self._splat_lock = threading.Lock()
        self._status = self.server.gui.add_markdown("")
        self.start_camera: Camera | None = None
        self.server.on_client_connect(self._on_connect)

    @property
    def url(self) -> str:
        host = self.options.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server.get_port()}"

    # ----- the splats ------------------------------------------------------------
    def show_splats(self, scene: GaussianScene, note: str = "") -> SplatArrays:
        """Send ``scene`` (within the budget) to every browser, replacing what was shown."""
        arrays = splat_arrays(scene, self.options.max_splats)
        with self._splat_lock:
            first = self.scene is None
            self.scene, self.shown = scene, arrays
            self.server.scene.add_gaussian_splats(
                SPLATS_NODE, centers=arrays.centers, covariances=arrays.covariances,
                rgbs=arrays.rgbs, opacities=arrays.opacities)
            if first:
                self._place(scene)
            self._status.content = self._status_text(scene, arrays, note)
        return arrays

    def _status_text(self, scene: GaussianScene, arrays: SplatArrays, note: str) -> str:
        budget = self.options.max_splats
        limit = f" (budget `--max-splats {budget:,}`)" if budget else ""
        units = ("**unscaled** (arbitrary units)" if scene.meta.get("unscaled")
                 else f"{unit_name(scene)}")
        lines = [f"**Splats:** {arrays.shown:,} of {arrays.total:,} shown{limit}",
                 f"**Units:** {units}, frame `{scene.frame.name}`"]
        return "  \n".join(lines + ([note] if note else []))

    # ----- up, floor grid, scale bar -----------------------------------------------
    def _place(self, scene: GaussianScene) -> None:
        up = scene.frame.up
        self.server.scene.set_up_direction(tuple(float(v) for v in up))
        if not self.options.floor_helpers:
            return
        floor, low, high = floor_and_extent(scene)
        span = float(np.max(high - low))
        plane, axis = _floor_plane(up)
        centre = (low + high) / 2
        position = centre.copy()
        position[axis] = floor
        cell = nice_length(span / 20)
        grid = self.server.scene.add_grid("/floor", width=2 * span, height=2 * span,
                                          plane=plane, cell_size=cell, section_size=10 * cell,
                                          position=tuple(position), shadow_opacity=0.0)
        bar = self._scale_bar(scene, position, low, high, axis)
        toggle = self.server.gui.add_checkbox("Show floor grid and scale bar", initial_value=True)

        @toggle.on_update
        def _(_: Any) -> None:
            grid.visible = bar.visible = toggle.value

    def _scale_bar(self, scene: GaussianScene, floor_centre: np.ndarray, low: np.ndarray,
                   high: np.ndarray, axis: int) -> Any:
        """A bar of a round length lying on the floor at the front edge of the set."""
        length = nice_length((high - low).max() / 4)
        across = next(i for i in range(3) if i != axis)
        start = floor_centre.copy()
        start[across] = low[across]
        end = start.copy()
        end[across] += length
        label = (f"{_length_text(length)} (unscaled)" if scene.meta.get("unscaled")
                 else _length_text(length, unit_name(scene)))
        bar = self.server.scene.add_frame("/scale_bar", show_axes=False)
        self.server.scene.add_line_segments(
            "/scale_bar/bar", points=np.array([[start, end]], np.float32),
            colors=(240, 200, 0), thickness=4.0, thickness_units="screen")
        self.server.scene.add_label("/scale_bar/label", label,
                                    position=tuple((start + end) / 2))
        return bar

    # ----- the browser's camera ------------------------------------------------------
    def set_start(self, camera: Camera) -> None:
        """Where every browser's view opens (and a recorded page's: viser keeps the
        initial camera as position, look-at point, up and field of view)."""
        self.start_camera = camera
        pose = camera.pose_in(camera.frame, VIEWER_CAMERA_AXES)
        position, forward, down = pose[:3, 3], pose[:3, 2], pose[:3, 1]
        distance = 1.0  # to the point the view orbits about: a quarter of the set
        if self.scene is not None:
            _, low, high = floor_and_extent(self.scene)
            distance = max(float(np.max(high - low)) / 4, 1e-3)
        initial = self.server.initial_camera
        initial.fov = float(camera.fov_y)
        initial.position = tuple(position)
        initial.look_at = tuple(position + distance * forward)
        initial.up = tuple(-down)
        for client in self.server.get_clients().values():
            move_client(client, camera)

    def _on_connect(self, client: Any) -> None:
        if self.start_camera is not None:
            move_client(client, self.start_camera)

    def announce(self, text: str) -> None:
        """A line for the terminal (what the crop and measuring tools print)."""
        self.say(text)

    # ----- running -------------------------------------------------------------------
    def stop(self) -> None:
        stop_server(self.server)


def stop_server(server: Any) -> None:
    with _quiet_viser():
        server.stop()


@contextlib.contextmanager
def _quiet_viser() -> Iterator[None]:
    """viser prints a banner when it starts and a line when it stops, whatever its
    ``verbose``; our CLI prints the URL itself (and keeps ``--json`` output clean)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def move_client(client: Any, camera: Camera) -> None:
    """Put one browser's view where ``camera`` is, with its vertical field of view."""
    wxyz, position = viewer_pose(camera)
    with client.atomic():
        client.camera.fov = float(camera.fov_y)
        client.camera.position = tuple(position)
        client.camera.wxyz = tuple(wxyz)


def floor_and_extent(scene: GaussianScene) -> tuple[float, np.ndarray, np.ndarray]:
    """The floor's height along the frame's up axis and the robust bounds (1-99 % of
    centres). An upright SfM scene has its floor at 0 (``meta['upright'] == 'floor'``);
    otherwise the floor is the lowest 1 % of the splats."""
    low, high = scene.bounds(percentile=1)
    up = scene.frame.up
    axis = int(np.argmax(np.abs(up)))
    if scene.meta.get("upright") == "floor":
        return 0.0, low, high
    return float(low[axis] if up[axis] > 0 else high[axis]), low, high


def overview_camera(scene: GaussianScene, cameras: Sequence[Camera] = ()) -> Camera:
    """The set (and the capture's cameras) from high above its middle, tilted a little:
    scanned sets seldom have a ceiling to block the view."""
    _, low, high = floor_and_extent(scene)
    if cameras:
        centres = np.array([c.center for c in cameras])
        low, high = np.minimum(low, centres.min(0)), np.maximum(high, centres.max(0))
    centre = (low + high) / 2
    up = scene.frame.up
    span = float(np.max(high - low))
    aside = np.roll(np.abs(up), 1)  # a horizontal axis
    eye = centre + 0.8 * span * up - 0.3 * span * aside
    return Camera.look_at(eye, centre, width=OVERVIEW_SIZE[0], height=OVERVIEW_SIZE[1],
                          fov_x_deg=70.0, frame=scene.frame)


def _floor_plane(up: np.ndarray) -> tuple[str, int]:
    axis = int(np.argmax(np.abs(up)))
    return {0: "yz", 1: "xz", 2: "xy"}[axis], axis


def nice_length(value: float) -> float:
    """1, 2 or 5 times a power of ten, at most ``value`` (the scale bar's length)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (5, 2, 1) if m * power <= value)


def unit_name(scene: GaussianScene) -> str:
    return {1.0: "m", 0.01: "cm", 0.001: "mm"}.get(scene.frame.meters_per_unit,
                                                   f"× {scene.frame.meters_per_unit:g} m")


def _length_text(length: float, unit: str = "units") -> str:
    return f"{length:g} {unit}"
