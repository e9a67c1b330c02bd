"""The tech's tools in the viewer: a crop box that gives the exact ``--crop`` argument
``export`` takes, and a tape measure between two picked points.

Both work in the scene's own frame and units, the ones ``export`` reads its source in. A
picked point is where the splats under the pointer become opaque: our renderer's median
depth (transmittance 0.5) along the click's ray, through a narrow camera aimed along it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.fsutil import atomic_write
from setsplat.export import Crop
from setsplat.view.server import Viewer, floor_and_extent, unit_name

PICK_PIXELS = 9        # the narrow picking camera's size
PICK_FOV_DEG = 0.2     # and field of view: a few pixels of a browser view
MARKER_COLOR = (255, 40, 160)


class CropTool:
    """An axis-aligned box: drag its handle to move it, type its corners to size it."""

    def __init__(self, viewer: Viewer):
        self.viewer = viewer
        server = viewer.server
        scene = viewer.scene
        assert scene is not None, "show the splats before adding the crop tool"
        _, low, high = floor_and_extent(scene)
        self.low, self.high = low.astype(float), high.astype(float)
        step = float(np.max(high - low)) / 1000
        with server.gui.add_folder("Crop box", expand_by_default=False):
            self.enabled = server.gui.add_checkbox("Show crop box", initial_value=False)
            self.min_input = server.gui.add_vector3("Min", initial_value=tuple(self.low),
                                                   step=step)
            self.max_input = server.gui.add_vector3("Max", initial_value=tuple(self.high),
                                                   step=step)
            self.argument = server.gui.add_text("--crop", initial_value=self.text(),
                                                disabled=True)
            print_button = server.gui.add_button("Print --crop")
            save_button = server.gui.add_button("Save --crop")
        self.box = server.scene.add_box("/crop/box", color=(255, 200, 0), wireframe=True,
                                        dimensions=tuple(self.high - self.low),
                                        position=tuple((self.low + self.high) / 2),
                                        visible=False)
        self.handle = server.scene.add_transform_controls(
            "/crop/handle", scale=float(np.max(high - low)) / 8, disable_rotations=True,
            position=tuple((self.low + self.high) / 2), visible=False)
        self._lock = threading.Lock()
        self.enabled.on_update(lambda _: self._show(self.enabled.value))
        self.min_input.on_update(lambda _: self._typed())
        self.max_input.on_update(lambda _: self._typed())
        self.handle.on_update(lambda _: self._dragged())
        print_button.on_click(lambda _: self.print())
        save_button.on_click(lambda _: self.save())

    def crop(self) -> Crop:
        """The box as ``export``'s crop (checked the way ``export --crop`` checks it)."""
        return Crop.parse(self.text())

    def text(self) -> str:
        return str(Crop("box", tuple(float(v) for v in (*self.low, *self.high))))

    def print(self) -> str:
        line = f"--crop {self.text()}"
        self.viewer.announce(f"crop: {line}")
        return line

    def save(self, path: str | Path | None = None) -> Path:
        """Write the argument (one line, ``--crop box:...``) to a file."""
        target = Path(path or self.viewer.options.crop_file or "crop.txt")
        try:
            with atomic_write(target) as f:
                f.write(f"--crop {self.text()}\n".encode())
        except OSError as exc:
            self.viewer.announce(f"crop: cannot write {target}: {exc.strerror or exc}")
            raise
        self.viewer.announce(f"crop: saved to {target}")
        return target

    def set_box(self, low: np.ndarray, high: np.ndarray) -> None:
        low, high = np.asarray(low, float), np.asarray(high, float)
        if np.any(low >= high):
            return  # a corner typed past the other: wait for the next value
        with self._lock:
            self.low, self.high = low, high
            centre = tuple((low + high) / 2)
            self.box.dimensions = tuple(high - low)
            self.box.position = centre
            self.handle.position = centre
            self.min_input.value = tuple(low)
            self.max_input.value = tuple(high)
            self.argument.value = self.text()

    def _show(self, on: bool) -> None:
        self.box.visible = on
        self.handle.visible = on

    def _typed(self) -> None:
        self.set_box(np.array(self.min_input.value), np.array(self.max_input.value))

    def _dragged(self) -> None:
        half = (self.high - self.low) / 2
        centre = np.asarray(self.handle.position, float)
        if not np.allclose(centre, (self.low + self.high) / 2):
            self.set_box(centre - half, centre + half)


class MeasureTool:
    """Click two points on the splats; the distance between them, in the scene's units."""

    def __init__(self, viewer: Viewer):
        self.viewer = viewer
        self.points: list[np.ndarray] = []
        server = viewer.server
        with server.gui.add_folder("Measure", expand_by_default=False):
            self.enabled = server.gui.add_checkbox("Measure (click two points)",
                                                   initial_value=False)
            self.result = server.gui.add_markdown("")
            clear = server.gui.add_button("Clear")
        self.enabled.on_update(lambda _: self._toggle())
        clear.on_click(lambda _: self.clear())
        self._callback = None

    def _toggle(self) -> None:
        scene_api = self.viewer.server.scene
        if self.enabled.value and self._callback is None:
            self._callback = scene_api.on_click()(self._clicked)
        elif not self.enabled.value and self._callback is not None:
            scene_api.remove_click_callback(self._callback)
            self._callback = None

    def _clicked(self, event: Any) -> None:
        point = pick(self.viewer, np.array(event.ray_origin), np.array(event.ray_direction))
        if point is None:
            self.result.content = "Nothing under the pointer: click on the set."
            return
        if len(self.points) == 2:
            self.clear()
        self.points.append(point)
        index = len(self.points)
        self.viewer.server.scene.add_icosphere(
            f"/measure/point_{index}", radius=self._marker_radius(), color=MARKER_COLOR,
            position=tuple(point))
        if index == 2:
            self._report()

    def _marker_radius(self) -> float:
        _, low, high = floor_and_extent(self.viewer.scene)
        return float(np.max(high - low)) / 300

    def _report(self) -> None:
        a, b = self.points
        distance = float(np.linalg.norm(b - a))
        scene = self.viewer.scene
        unit = "units (unscaled)" if scene.meta.get("unscaled") else unit_name(scene)
        text = f"{distance:.4g} {unit}"
        self.viewer.server.scene.add_line_segments(
            "/measure/line", points=np.array([[a, b]], np.float32), colors=MARKER_COLOR,
            thickness=3.0, thickness_units="screen")
        self.viewer.server.scene.add_label("/measure/label", text, position=tuple((a + b) / 2))
        self.result.content = f"**Distance:** {text}"
        self.viewer.announce(f"measure: {distance:.6g} {unit} between "
                             f"{_xyz(a)} and {_xyz(b)}")

    def clear(self) -> None:
        self.points = []
        self.viewer.server.scene.remove_by_name("/measure")
        self.result.content = ""


def pick(viewer: Viewer, origin: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
    """Where the ray from ``origin`` along ``direction`` meets the splats; None when it
    meets nothing."""
    scene = viewer.scene
    if scene is None:
        return None
    direction = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    depth = _median_depth(scene, origin, direction)
    if depth is None:
        return None
    return origin + direction * _surface_depth(scene, origin, direction, depth)


def _median_depth(scene: Any, origin: np.ndarray, direction: np.ndarray) -> float | None:
    """The depth where the splats along the ray become opaque: our renderer's median depth
    (transmittance 0.5) through a narrow camera aimed along it, the median over its
    middle 3 x 3 pixels (one stray splat does not move it; their rays are within a few
    hundredths of a degree of the axis, so z is the distance along it)."""
    from setsplat.render import render_scene

    camera = _ray_camera(origin, direction, scene.frame)
    output = render_scene(scene, [camera], sh_degree=0)[0]
    middle = slice(PICK_PIXELS // 2 - 1, PICK_PIXELS // 2 + 2)
    depths = output.median_depth[0, middle, middle, 0].numpy().ravel()
    if np.count_nonzero(depths > 0) < depths.size // 2 + 1:
        return None
    return float(np.median(depths[depths > 0]))


def _surface_depth(scene: Any, origin: np.ndarray, direction: np.ndarray,
                   depth: float) -> float:
    """The surface the ray meets near ``depth``: the splat centres there, weighted by
    opacity and by how close the ray passes (in their own size). Opacity crosses 0.5
    in front of a surface, further in front the more obliquely the ray meets it; the
    centres are where training put the surface."""
    relative = scene.means.astype(np.float64) - origin
    along = relative @ direction
    across = np.linalg.norm(relative - along[:, None] * direction, axis=1)
    size = scene.scales.max(axis=1).astype(np.float64)
    near = (np.abs(along - depth) < 3 * size) & (across < 2 * size)
    weights = scene.opacities[near] * np.exp(-0.5 * (across[near] / size[near]) ** 2)
    total = float(weights.sum())
    return float(weights @ along[near]) / total if total > 0 else depth


def _ray_camera(origin: np.ndarray, direction: np.ndarray, frame: Any) -> Camera:
    """Aimed along the ray; its "up" is the world axis least along it (any roll will do)."""
    helper = np.eye(3)[int(np.argmin(np.abs(direction)))]
    return Camera.look_at(origin, origin + direction, width=PICK_PIXELS, height=PICK_PIXELS,
                          fov_x_deg=PICK_FOV_DEG, up=helper, frame=frame)


def _xyz(point: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in point) + ")"
