"""What ``setsplat view`` shows: a scene file, a ``setsplat run`` folder, a training
folder or a catalog asset, with whatever came with it.

A scene file is read as it is. A run folder (``run.json``) shows ``train/scene.ply``; a
training folder shows its ``scene.ply``. Beside a training output we find the capture's
cameras (``sfm/cameras.json``), their undistorted photos (``sfm/images``), the SfM points
(``sfm/points.ply``) and which photos were held out (``config.json``'s ``eval_every``).
An asset ``Name@version`` is shown in its Y-up metres with its proxy mesh, preview LOD,
provenance and the shots made in that version. A run's SfM coverage map (the top-down
PNG and the places to reshoot) comes along when SfM made one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera, read_cameras
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import convert_world_to_camera
from setsplat.core.io import read_scene
from setsplat.core.scene import GaussianScene

SCENE_SUFFIXES = (".ply", ".spz", ".splat", ".glb", ".gltf")


@dataclass
class ShotPath:
    """A shot's camera per frame, for the viewer's curve, slider and play button."""

    name: str
    frames: list[int]
    cameras: list[Camera]
    fps: float


@dataclass
class AssetExtras:
    """What a catalog asset adds: its preview LOD, proxy mesh, provenance and shots."""

    ref: str
    preview: Callable[[], GaussianScene]
    proxy: Any = None  # ProxyMesh or None (placeholder box, or none published)
    provenance: dict[str, Any] = field(default_factory=dict)
    shots: list[ShotPath] = field(default_factory=list)


@dataclass
class CoverageOverlay:
    """SfM's coverage, placed in the scene: the set's outline as segments colored by
    how well photos saw each side, labels at the places to reshoot, and the top-down map."""

    segments: np.ndarray  # (N, 2, 3) outline pieces, one per bearing sector
    status: list[str]  # each segment's "ok", "weak" or "unseen"
    reshoot: list[tuple[str, np.ndarray]]  # (what to reshoot, where) per place
    top_down: np.ndarray | None = None  # the map SfM drew (RGB), when it could be read


@dataclass
class ViewTarget:
    """A scene and what came with it, all in the scene's frame."""

    name: str
    scene: GaussianScene
    cameras: list[Camera] = field(default_factory=list)
    held_out: set[str] = field(default_factory=set)
    photos: Path | None = None  # folder holding each camera's photo by name
    points: tuple[np.ndarray, np.ndarray] | None = None  # SfM points (xyz, rgb 0..1)
    asset: AssetExtras | None = None
    coverage: CoverageOverlay | None = None

    @property
    def unscaled(self) -> bool:
        return bool(self.scene.meta.get("unscaled", False))

    def photo(self, camera: Camera) -> Path | None:
        """The photo a capture camera took, if it is there (and inside its folder)."""
        if self.photos is None:
            return None
        path = (self.photos / camera.name).resolve()
        inside = self.photos.resolve() in path.parents
        return path if inside and path.is_file() else None


def open_target(target: str | os.PathLike, library: str | os.PathLike | None = None
                ) -> ViewTarget:
    """Resolve TARGET (scene file, run folder, training folder or ``Name@version``)."""
    from setsplat.export.targets import asset_reference

    text = os.fspath(target)
    if asset_reference(text):
        return _asset_target(text, library)
    path = Path(text)
    if not path.exists():
        raise SetsplatError("no such file or folder", "give a scene file (PLY, SPZ, .splat, "
                            "GLB), a run or training folder, or an asset Name@version", path)
    if path.is_dir():
        return _folder_target(path)
    if path.suffix.lower() not in SCENE_SUFFIXES:
        raise SetsplatError(f"cannot view a {path.suffix or 'suffix-less'} file",
                            f"give a scene file ({', '.join(SCENE_SUFFIXES)}), a run or "
                            "training folder, or an asset Name@version", path)
    return _with_capture(ViewTarget(path.stem, read_scene(path)), _training_folder(path))


def start_views(source: str | os.PathLike, scene: GaussianScene,
                library: str | os.PathLike | None = None
                ) -> tuple[list[Camera], list[ShotPath]]:
    """The capture cameras (in ``scene``'s frame) and shots that came with an export
    source (a scene file or ``Name@version``), without reading its splats again."""
    from setsplat.export.targets import asset_reference

    text = os.fspath(source)
    if asset_reference(text):
        from setsplat.assets import resolve

        record, interface = resolve(text, library)
        cameras_file = interface.parent / "cameras.json"
        cameras = read_cameras(cameras_file) if cameras_file.is_file() else []
        return _cameras_in(cameras, scene), _shots(record, library)
    training = _training_folder(Path(text))
    cameras_file = training.parent / "sfm" / "cameras.json" if training else None
    if cameras_file is None or not cameras_file.is_file():
        return [], []
    return _cameras_in(read_cameras(cameras_file), scene), []


def _training_folder(scene_file: Path) -> Path | None:
    """The training output a scene file sits in (it has the training's config.json)."""
    return scene_file.parent if (scene_file.parent / "config.json").is_file() else None


def _folder_target(folder: Path) -> ViewTarget:
    training = folder / "train" if (folder / "run.json").is_file() else folder
    scene_file = training / "scene.ply"
    if not scene_file.is_file():
        raise SetsplatError("no scene.ply here (nor train/scene.ply in a run folder)",
                            "give a scene file, a `setsplat run` folder or a training "
                            "folder that finished", folder)
    name = folder.resolve().name
    return _with_capture(ViewTarget(name, read_scene(scene_file)), training)


def _with_capture(target: ViewTarget, training: Path | None) -> ViewTarget:
    """Add the capture's cameras, photos, SfM points and held-out photos of a training
    output (its SfM folder is ``../sfm``)."""
    if training is None:
        return target
    sfm = training.parent / "sfm"
    if (sfm / "cameras.json").is_file():
        target.cameras = _cameras_in(read_cameras(sfm / "cameras.json"), target.scene)
        target.photos = sfm / "images" if (sfm / "images").is_dir() else None
        target.held_out = _held_out(training / "config.json", target.cameras)
    if (sfm / "points.ply").is_file():
        from setsplat.core.io import ply

        xyz, rgb = ply.read_points(sfm / "points.ply")
        target.points = (xyz, np.full_like(xyz, 0.7) if rgb is None else rgb)
    if (sfm / "cameras.json").is_file():
        target.coverage = _coverage(sfm, read_cameras(sfm / "cameras.json"), target.scene)
    return target


def _coverage(sfm: Path, cameras: list[Camera], scene: GaussianScene
              ) -> CoverageOverlay | None:
    """SfM's coverage map in the scene's frame: its outline and places are top-down (x, z
    in SfM's frame), drawn at the height the photos were taken from."""
    from setsplat.core.frames import convert_points
    from setsplat.reconstruct.coverage import read_coverage

    coverage = read_coverage(sfm)
    sectors = (coverage or {}).get("sectors") or []
    if not sectors or not cameras:
        return None
    try:
        height = float(np.median([c.center[1] for c in cameras]))

        def placed(xz: list[float]) -> np.ndarray:
            return np.array([float(xz[0]), height, float(xz[1])])

        outline = [placed(s["outline_xz"]) for s in sectors]
        segments = np.stack([[outline[k], outline[(k + 1) % len(outline)]]
                             for k in range(len(outline))])
        status = [str(s["status"]) for s in sectors]
        reshoot = [(str(r["where"]), placed(r["around_xz"]))
                   for r in coverage.get("reshoot", [])]
    except (KeyError, TypeError, ValueError, IndexError):
        return None  # a report we cannot read is not worth refusing the view over
    frame = cameras[0].frame
    segments = convert_points(segments.reshape(-1, 3), frame, scene.frame).reshape(-1, 2, 3)
    reshoot = [(text, convert_points(where[None], frame, scene.frame)[0])
               for text, where in reshoot]
    return CoverageOverlay(segments, status, reshoot, _top_down(sfm, coverage.get("png")))


def _top_down(sfm: Path, name: Any) -> np.ndarray | None:
    """The coverage PNG the report names, read only from inside the SfM folder."""
    from setsplat.core.limits import open_image

    if not isinstance(name, str) or not name:
        return None
    path = (sfm / name).resolve()
    if sfm.resolve() not in path.parents or not path.is_file():
        return None
    try:
        with open_image(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, SetsplatError):
        return None


def _held_out(config_file: Path, cameras: list[Camera]) -> set[str]:
    """Names of the photos training held out (every Nth by name, as training split them)."""
    from setsplat.reconstruct.train.data import split

    try:
        every = int(json.loads(config_file.read_text()).get("eval_every", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return set()
    _, held = split([c.name for c in cameras], max(every, 0))
    return {cameras[i].name for i in held}


def _cameras_in(cameras: list[Camera], scene: GaussianScene) -> list[Camera]:
    """The cameras with their poses in the scene's frame (and units)."""
    out = []
    for camera in cameras:
        if camera.frame != scene.frame:
            pose = convert_world_to_camera(camera.world_to_camera, camera.frame, scene.frame)
            camera = Camera(camera.width, camera.height, camera.fx, camera.fy, camera.cx,
                            camera.cy, pose, camera.model, camera.distortion, camera.name,
                            scene.frame)
        out.append(camera)
    return out


def _asset_target(ref: str, library: str | os.PathLike | None) -> ViewTarget:
    from setsplat.assets import load, resolve

    record, interface = resolve(ref, library)
    scene = load(ref, library)
    folder = interface.parent
    target = ViewTarget(record["ref"], scene)
    if (folder / "cameras.json").is_file():
        target.cameras = _cameras_in(read_cameras(folder / "cameras.json"), scene)
        source = _capture_folder(folder / "cameras.json")
        if source is not None and (source / "images").is_dir():
            target.photos = source / "images"
    target.asset = AssetExtras(
        ref=record["ref"], preview=lambda: load(ref, library, lod="preview"),
        proxy=_proxy(interface), provenance=_json(folder / "provenance.json"),
        shots=_shots(record, library))
    return target


def _capture_folder(cameras_file: Path) -> Path | None:
    """The SfM folder the asset's cameras were copied from, when it is still there."""
    from setsplat.core.camera import read_camera_meta

    source = read_camera_meta(cameras_file).get("source")
    folder = Path(source).parent if isinstance(source, str) else None
    return folder if folder is not None and folder.is_dir() else None


def _proxy(interface: Path) -> Any:
    """The published proxy mesh (None for a placeholder box or none at all)."""
    from pxr import Usd

    from setsplat.assets import usd_asset
    from setsplat.mesh import read_usd_prim

    path = interface.parent / usd_asset.MESH
    if not path.is_file():
        return None
    prim = Usd.Stage.Open(os.fspath(path)).GetPrimAtPath(f"/{usd_asset.MESH_PRIM}")
    if not prim or prim.GetCustomDataByKey("setsplat:placeholder"):
        return None
    try:
        return read_usd_prim(prim)
    except (ValueError, KeyError, TypeError):
        return None


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _shots(record: dict[str, Any], library: str | os.PathLike | None) -> list[ShotPath]:
    from setsplat.assets import Library
    from setsplat.shots import shot_cameras, store

    resolved = Library.resolve(library)
    with store.open_catalog(resolved) as catalog:
        shots = store.list_shots(catalog, version_id=record["id"])
    return [ShotPath(shot.name, list(shot.frames), shot_cameras(shot), shot.fps)
            for shot, _ in shots]
