"""Publishing a version: all or nothing, even under kill -9 and concurrent publishers.

1. Read and check the source before touching the library.
2. Reserve the next version in one short write transaction (``pending`` row), while
   holding an exclusive ``flock`` on ``assets/<Name>/.v003.lock``: the lock says the
   reserving process is alive and dies with it.
3. Build the version aside in ``assets/<Name>/.v003.tmp-xxxx``, fsync every file.
4. Rename the folder to ``assets/<Name>/v003`` and fsync the parent.
5. One transaction marks the version published with its files' SHA-256 and the tags.

A process killed anywhere leaves at most a pending row, a lock file and a folder that
nobody lists; ``recover`` (run by every publish for its asset, and by ``verify``)
removes them once their lock can be taken, i.e. their owner is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera, read_cameras, write_cameras
from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.frames import YUP, convert_points
from setsplat.core.fsutil import fsync_dir, sha256_file, staging_folder
from setsplat.core.io import read_scene, usd
from setsplat.core.jsonio import write_json
from setsplat.core.progress import progress
from setsplat.core.scene import GaussianScene
from setsplat.mesh import MeshOptions, build_proxy

from . import provenance, usd_asset
from .catalog import Catalog, now
from .catalogs import open_catalog
from .library import Library, check_name, check_tag, version_folder_name

_LOCK_TRIES = 200  # x 50 ms: a cleaner holds a stray lock only briefly, even under load
_LOCK_RETRY_S = 0.05


@dataclass(frozen=True)
class PublishOptions:
    name: str
    tags: tuple[str, ...] = ()
    description: str = ""
    half: bool = False
    meters_per_unit: float | None = None  # only for scenes marked unscaled
    preview: usd_asset.PreviewConfig = field(default_factory=usd_asset.PreviewConfig)
    thumbnails: bool = True
    mesh: MeshOptions | None = field(default_factory=MeshOptions)  # None: placeholder box


def publish(source: str | os.PathLike, options: PublishOptions,
            library: Library | None = None) -> dict[str, Any]:
    """Publish ``source`` (a scene file or training output folder) as the next version of
    ``options.name``; returns the version's catalog record."""
    library = library or Library.resolve()
    name = check_name(options.name)
    tags = tuple(check_tag(t) for t in options.tags)
    found = provenance.find_source(source)
    scene = _prepared_scene(read_scene(found.scene), options, found.scene)
    try:
        return _publish(found, scene, name, tags, options, library)
    except OSError as exc:  # disk full, permissions...: everything was rolled back
        raise os_error(exc, exc.filename or library.asset_dir(name), "publishing") from exc


def _publish(found: provenance.Source, scene: GaussianScene, name: str, tags: tuple[str, ...],
             options: PublishOptions, library: Library) -> dict[str, Any]:
    library.root.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(1) as pool, open_catalog(library, create=True) as catalog:
        source_hash = pool.submit(sha256_file, found.scene)
        recover(library, catalog, name)
        with _reservation(library, catalog, name) as (version_id, version, tmp), \
                progress(f"publishing {name}@{version}", total=len(_STEPS)) as advance:
            sealer = _Sealer(tmp, pool)
            cameras = _capture_cameras(scene, found)
            fields, warnings = _build(tmp, scene, name, version, options, cameras, sealer,
                                      advance)
            if options.thumbnails:
                for path in _thumbnails(tmp, scene, found):
                    sealer.add(path.relative_to(tmp).as_posix())
            if cameras:
                write_cameras(tmp / CAMERAS_FILE, cameras, {
                    "source": os.fspath(found.records["cameras"]),
                    "scale_applied": float(scene.meta.get("scale_applied", 1.0))})
                sealer.add(CAMERAS_FILE)
            advance()
            fields.update(source=os.fspath(found.scene), source_sha256=source_hash.result())
            record = {"name": name, "version": version, "published_at": now(),
                      "options": _options_record(options)}
            write_json(tmp / "provenance.json", provenance.collect(
                found, fields["source_sha256"], scene.meta, record), sort_keys=True)
            sealer.add("provenance.json")
            files = sealer.finish()
            fields["bytes"] = sum(f["bytes"] for f in files)
            advance()
            final = library.version_dir(name, version)
            os.rename(tmp, final)
            fsync_dir(final.parent)
            catalog.complete(version_id, fields, files, tags)
            advance()
        return {**catalog.resolve_id(version_id), "warnings": warnings}


_STEPS = ("full", "preview", "mesh", "interface", "thumbnails", "seal", "commit")
CAMERAS_FILE = "cameras.json"  # the capture's cameras, in the source scene's frame


def _prepared_scene(scene: GaussianScene, options: PublishOptions, path: Path) -> GaussianScene:
    if len(scene) == 0:
        raise SetsplatError("the scene has no splats", "nothing to publish", path)
    if options.meters_per_unit is None:
        return scene
    if not scene.meta.get("unscaled"):
        raise SetsplatError("--units/--scale only apply to a scene marked unscaled",
                            "this scene already has metric scale; leave them out", path)
    if not options.meters_per_unit > 0:
        raise SetsplatError(f"scale must be positive, got {options.meters_per_unit}", None)
    scaled = scene.transform(scale=options.meters_per_unit)
    scaled.meta.update(unscaled=False, scale_applied=options.meters_per_unit)
    return scaled


def _build(folder: Path, scene: GaussianScene, name: str, version: int,
           options: PublishOptions, cameras: list[Camera], sealer: _Sealer,
           advance: Any) -> tuple[dict[str, Any], list[str]]:
    """Write every file of the version into ``folder``; return its catalog fields and
    what the user should hear about."""
    (folder / usd_asset.PAYLOAD_DIR).mkdir()
    extent = usd.write(folder / usd_asset.SPLATS_FULL, scene, half=options.half)
    sealer.add(usd_asset.SPLATS_FULL)
    advance()
    preview = usd_asset.preview_scene(scene, options.preview)
    usd.write(folder / usd_asset.SPLATS_PREVIEW, preview, half=options.half)
    sealer.add(usd_asset.SPLATS_PREVIEW)
    advance()
    mesh_fields, warnings = _write_mesh(folder / usd_asset.MESH, scene, options.mesh, cameras)
    sealer.add(usd_asset.MESH)
    advance()
    interface = f"{name}.usda"
    unscaled = bool(scene.meta.get("unscaled"))
    usd_asset.write_interface(folder / interface, name, version, extent,
                              options.description, unscaled)
    sealer.add(interface)
    advance()
    return {"description": options.description, "splats": len(scene),
            "preview_splats": len(preview), "sh_degree": scene.sh_degree,
            "half": int(options.half), "unscaled": int(unscaled),
            "extent": json.dumps(np.asarray(extent).tolist()), "interface": interface,
            **mesh_fields}, warnings


def _write_mesh(path: Path, scene: GaussianScene, options: MeshOptions | None,
                cameras: list[Camera]) -> tuple[dict[str, Any], list[str]]:
    """The proxy mesh; a placeholder box when it was not asked for, when the mesh extra
    is missing or when the splats describe no surface (the version stays usable and
    says which it holds)."""
    warnings = []
    if options is not None:
        try:
            proxy = build_proxy(scene, options, cameras)
        except SetsplatError as exc:
            warnings.append(f"no proxy mesh ({exc.line()}); the mesh variant holds a "
                            "placeholder box")
        else:
            usd_asset.write_proxy_mesh(path, proxy, options)
            return {"mesh": "proxy", "mesh_triangles": len(proxy.faces)}, warnings
    low, high = scene.bounds(percentile=1)
    corners = convert_points(np.stack([low, high]), scene.frame, YUP)
    usd_asset.write_placeholder_mesh(path, corners.min(0), corners.max(0))
    return {"mesh": "placeholder", "mesh_triangles": None}, warnings


def _thumbnails(folder: Path, scene: GaussianScene, found: provenance.Source) -> list[Path]:
    """Three views: through the capture's own cameras when the source has them (and no
    rescale moved the scene away from them), else around the bounds. None where this
    installation has no renderer."""
    from . import thumbnails

    if not thumbnails.renderer_available():
        return []
    config = thumbnails.ThumbnailConfig()
    cameras = []
    if "cameras" in found.records and "scale_applied" not in scene.meta:
        try:
            cameras = thumbnails.capture_cameras(found.records["cameras"], config)
        except SetsplatError:
            cameras = []  # unreadable cameras only cost us the nicer views
    return thumbnails.write(folder / thumbnails.FOLDER, scene, cameras, config)


def _capture_cameras(scene: GaussianScene, found: provenance.Source) -> list[Camera]:
    """The capture's cameras, scaled like the scene when a scale was applied: kept
    beside the asset (shots start from a scan photo's pose) and facing the proxy
    mesh's normals. None when the source has none."""
    if "cameras" not in found.records:
        return []
    try:
        cameras = read_cameras(found.records["cameras"])
    except SetsplatError:
        return []  # unreadable cameras only cost us --from-capture
    factor = float(scene.meta.get("scale_applied", 1.0))
    for camera in cameras:
        camera.world_to_camera[:3, 3] *= factor
    return cameras


def _options_record(options: PublishOptions) -> dict[str, Any]:
    record = asdict(options)
    record["tags"] = list(options.tags)
    return record


def _role(relative: str) -> str:
    if relative.startswith(usd_asset.PAYLOAD_DIR + "/"):
        return "payload"
    if relative.endswith(".usda"):
        return "interface"
    if relative.endswith(".png"):
        return "thumbnail"
    if relative == CAMERAS_FILE:
        return "cameras"
    return "provenance"


class _Sealer:
    """fsync and hash each file in the background as soon as it is written, so the
    big payload is being hashed while the small files are made."""

    def __init__(self, folder: Path, pool: ThreadPoolExecutor) -> None:
        self.folder = folder
        self.pool = pool
        self.pending: dict[str, Future] = {}

    def add(self, relative: str) -> None:
        self.pending[relative] = self.pool.submit(_seal_file, self.folder / relative)

    def finish(self) -> list[dict[str, Any]]:
        """Sizes and SHA-256 of every file (all of them must have been added), folders
        fsync'd."""
        on_disk = sorted(p.relative_to(self.folder).as_posix()
                         for p in self.folder.rglob("*") if p.is_file())
        unknown = set(on_disk) - set(self.pending)
        if unknown:
            raise AssertionError(f"files written but not sealed: {sorted(unknown)}")
        files = [{"path": relative, "role": _role(relative), **self.pending[relative].result()}
                 for relative in on_disk]
        for sub in sorted({p.parent for p in self.folder.rglob("*")} | {self.folder},
                          reverse=True):
            fsync_dir(sub)
        return files


def _seal_file(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


# ----------------------------------------------------------------------------- locking
def lock_path(library: Library, name: str, version: int) -> Path:
    return library.asset_dir(name) / f".{version_folder_name(version)}.lock"


def try_lock(path: Path) -> int | None:
    """An exclusive flock on ``path`` (created if missing), or None if another process
    holds it. Guards against the file being replaced while we waited."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_error(exc, path, "creating a lock file") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)
        return None
    return fd


def _release(fd: int, path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.close(fd)


@contextlib.contextmanager
def _reservation(library: Library, catalog: Catalog,
                 name: str) -> Iterator[tuple[int, int, Path]]:
    """Reserve the next version (locked) and a temporary folder; undo both on failure."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    held: dict[str, Any] = {}

    def lock_version(version: int) -> None:
        path = lock_path(library, name, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = try_lock(path)
        if fd is None:
            raise _LockBusy
        held.update(fd=fd, path=path)

    for _ in range(_LOCK_TRIES):
        try:
            version_id, version = catalog.reserve(name, owner, lock_version,
                                                  floor=_highest_folder(library, name))
            break
        except _LockBusy:
            time.sleep(_LOCK_RETRY_S)
    else:
        raise SetsplatError(f"could not lock a new version of {name}",
                            "another process is cleaning up this asset; try again",
                            library.asset_dir(name))
    final = library.version_dir(name, version)
    tmp = final.parent / "(not made yet)"
    try:
        tmp = staging_folder(final, label="tmp")
        yield version_id, version, tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if catalog.state(version_id) == "pending":
            shutil.rmtree(final, ignore_errors=True)  # only ever made under this reservation
            catalog.drop_pending(version_id)
        raise
    finally:
        _release(held["fd"], held["path"])


def _highest_folder(library: Library, name: str) -> int:
    """The highest ``vNNN`` folder on disk: never reserve a number whose folder exists
    (a catalog restored from an older backup must not hand out v003 twice)."""
    folder = library.asset_dir(name)
    numbers = [int(p.name[1:]) for p in folder.glob("v[0-9][0-9][0-9]*") if p.name[1:].isdigit()]
    return max(numbers, default=0)


class _LockBusy(Exception):
    pass


# ----------------------------------------------------------------------------- recovery
def recover(library: Library, catalog: Catalog, name: str | None = None) -> list[str]:
    """Remove what crashed publishes left behind (only where the owner's lock is free).

    Returns a line per thing removed.
    """
    cleaned = []
    for row in catalog.pending(name):
        lock = lock_path(library, row["name"], row["version"])
        fd = try_lock(lock)
        if fd is None:
            continue  # its publisher is still at work
        if catalog.state(row["id"]) != "pending":  # it was published since we looked
            _release(fd, lock)
            continue
        final = library.version_dir(row["name"], row["version"])
        leftovers = [final, *final.parent.glob(f".{final.name}.tmp-*")]
        for folder in leftovers:
            if folder.exists():
                shutil.rmtree(folder)
                cleaned.append(f"removed unfinished {folder}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        catalog.drop_pending(row["id"])
        os.close(fd)
        cleaned.append(f"dropped the reservation of {row['name']}@{row['version']}")
    names = [name] if name else catalog.asset_names()
    for asset in names:
        cleaned += _stray_files(library, catalog, asset)
    return cleaned


def _stray_files(library: Library, catalog: Catalog, name: str) -> list[str]:
    """Temporary folders and lock files of no pending version whose lock is free."""
    folder = library.asset_dir(name)
    if not folder.is_dir():
        return []
    pending = {version_folder_name(r["version"]) for r in catalog.pending(name)}
    cleaned = []
    for entry in sorted(folder.iterdir()):
        stem = entry.name[1:].split(".", 1)[0]  # ".v003.tmp-x" / ".v003.lock" -> "v003"
        is_tmp = entry.is_dir() and entry.name.startswith(".") and ".tmp-" in entry.name
        is_lock = entry.is_file() and entry.name.startswith(".") and entry.name.endswith(".lock")
        if not (is_tmp or is_lock) or stem in pending:
            continue
        lock = folder / f".{stem}.lock"
        fd = try_lock(lock)
        if fd is None:
            continue
        if is_tmp:
            shutil.rmtree(entry, ignore_errors=True)
            cleaned.append(f"removed unfinished {entry}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)
    return cleaned
