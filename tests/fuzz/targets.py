"""Every reader of a file someone may hand us, with valid seeds to damage.

A target writes one damaged input into a fresh folder and reads it the way the CLI
does. ``multiple`` is the memory the reader may use per input byte (traced by
tracemalloc, on top of a fixed allowance): deflate's 1032:1 for SPZ, decoded float
arrays for the rest.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import random_scene
from tests.fuzz.mutate import Source, damaged_bytes, damaged_document, dump

# Inputs are written to memory-backed storage where there is some (fsync costs nothing).
SCRATCH_PARENT = "/dev/shm" if os.path.isdir("/dev/shm") else None


@dataclass(frozen=True)
class Target:
    name: str
    make: Callable[[Source], Any]  # one damaged input (seeds are made on first use)
    read: Callable[[Any, Path], int]  # reads one input in a folder; returns its byte size
    multiple: int = 64


# ----------------------------------------------------------------------------- scenes
def _scene_file(folder: Path, name: str, data: bytes) -> int:
    from setsplat.core.summary import describe_file

    (folder / name).write_bytes(data)
    describe_file(folder / name)
    return len(data)


@cache
def _scene_seeds(suffix: str) -> list[bytes]:
    import tempfile

    from setsplat.core.io import write_scene

    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        for degree, count in ((0, 3), (1, 2), (3, 1)):
            path = Path(tmp) / f"s{degree}{suffix}"
            write_scene(path, random_scene(count, degree=degree, seed=degree))
            seeds.append(path.read_bytes())
    return seeds


@cache
def _ply_seeds() -> list[bytes]:
    ascii_ply = (b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
                 b"property float z\nproperty float f_dc_0\nproperty float f_dc_1\n"
                 b"property float f_dc_2\nproperty float opacity\nproperty float scale_0\n"
                 b"property float scale_1\nproperty float scale_2\nproperty float rot_0\n"
                 b"property float rot_1\nproperty float rot_2\nproperty float rot_3\n"
                 b"end_header\n0 0 0 .1 .2 .3 1 -3 -3 -3 1 0 0 0\n"
                 b"1 1 1 .1 .2 .3 1 -3 -3 -3 1 0 0 0\n")
    big_endian = (b"ply\nformat binary_big_endian 1.0\nelement face 1\nproperty uchar a\n"
                  b"element vertex 1\nproperty double x\nproperty double y\nproperty double z\n"
                  b"property uchar red\nproperty uchar green\nproperty uchar blue\n"
                  b"end_header\n\x07" + np.array([1, 2, 3], ">f8").tobytes() + b"\x01\x02\x03")
    return [*_scene_seeds(".ply"), ascii_ply, big_endian]


def _ply(data: bytes, folder: Path) -> int:
    from setsplat.core.errors import SetsplatError
    from setsplat.core.io import ply

    (folder / "p.ply").write_bytes(data)
    with contextlib.suppress(SetsplatError):
        ply.read_points(folder / "p.ply")  # what training seeds itself from
    return _scene_file(folder, "s.ply", data)


def _spz(data: bytes, folder: Path) -> int:
    """Versions 1-3 live inside gzip, version 4 is its own container: the (mutated)
    header's version field picks which one the bytes go into."""
    version = int.from_bytes(data[4:8], "little") if len(data) >= 8 else 0
    packed = data if version == 4 else gzip.compress(data, compresslevel=1, mtime=0)
    return _scene_file(folder, "s.spz", packed)


@cache
def _spz_seeds() -> list[bytes]:
    """Seeds of every version we write: the inside of the gzip for 2 and 3, the file
    itself for 4."""
    import tempfile

    from setsplat.core.io import spz

    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        for version in (2, 3, 4):
            for degree, count in ((0, 3), (3, 1)):
                path = Path(tmp) / f"s{version}{degree}.spz"
                spz.write(path, random_scene(count, degree=degree, seed=degree),
                          version=version)
                raw = path.read_bytes()
                seeds.append(raw if version == 4 else gzip.decompress(raw))
    return seeds


def _gltf_input(source: Source) -> tuple[str, bytes]:
    if source.integer(0, 1):
        return "s.glb", damaged_bytes(source, _scene_seeds(".glb"))
    documents = [json.loads(s) for s in _scene_seeds(".gltf")]
    return "s.gltf", dump(damaged_document(source, documents))


def _gltf(sample: tuple[str, bytes], folder: Path) -> int:
    (folder / "buffer.bin").write_bytes(b"\0" * 64)  # a side-car a URI may name
    return _scene_file(folder, *sample)


# ----------------------------------------------------------------------------- COLMAP
@cache
def _colmap_seeds(binary: bool) -> dict[str, bytes]:
    import tempfile

    from setsplat.core.camera import Camera
    from setsplat.reconstruct.colmap_io import model_from_cameras, write_model

    cameras = [Camera.look_at([np.cos(a), -0.5, np.sin(a)], [0, 0, 0], width=64, height=48,
                              name=f"img{i}.png") for i, a in enumerate((0.0, 2.0, 4.0))]
    model = model_from_cameras(cameras)
    model.point_ids = np.array([1, 2])
    model.xyz = np.array([[0.0, 0, 0], [0.1, 0.2, 0.3]])
    model.rgb = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    model.errors = np.array([0.5, 0.25])
    model.tracks = [np.array([[1, 0], [2, 0]]), np.array([[3, 1]])]
    for image in model.images.values():
        image.xy = np.array([[1.0, 2.0], [3.0, 4.0]])
        image.point3d_ids = np.array([1, -1])
    with tempfile.TemporaryDirectory() as tmp:
        write_model(Path(tmp), model)
        files = {p.name: p.read_bytes() for p in Path(tmp).iterdir()}
    if binary:
        return files
    import pycolmap

    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        pycolmap.Reconstruction(tmp).write_text(tmp)
        return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.suffix == ".txt"}


def _colmap_input(binary: bool) -> Callable[[Source], tuple[str, bytes]]:
    def make(source: Source) -> tuple[str, bytes]:
        seeds = _colmap_seeds(binary)
        name = source.choice(sorted(seeds))
        return name, damaged_bytes(source, [seeds[name]])

    return make


def _colmap(binary: bool) -> Callable[[tuple[str, bytes], Path], int]:
    def read(sample: tuple[str, bytes], folder: Path) -> int:
        from setsplat.reconstruct.colmap_io import cameras_of, read_model

        name, data = sample
        for file, seed in _colmap_seeds(binary).items():
            (folder / file).write_bytes(data if file == name else seed)
        cameras_of(read_model(folder))
        return len(data)

    return read


# ----------------------------------------------------------------------------- JSON files
def _documents(seeds: Callable[[], list[Any]]) -> Callable[[Source], bytes]:
    """Damaged documents, and one time in four damaged bytes of a valid one."""
    def make(source: Source) -> bytes:
        documents = seeds()
        if source.integer(0, 3) == 0:
            return damaged_bytes(source, [dump(d) for d in documents])
        return dump(damaged_document(source, documents))

    return make


@cache
def _transforms_seeds() -> list[Any]:
    import tempfile

    from setsplat.core.camera import Camera
    from setsplat.reconstruct.transforms_json import write_transforms

    cameras = [Camera.look_at([1.0, 0, i], [0, 0, 0], width=64, height=48, name=f"{i}.png")
               for i in range(2)]
    with tempfile.TemporaryDirectory() as tmp:
        write_transforms(Path(tmp) / "t.json", cameras)
        full = json.loads((Path(tmp) / "t.json").read_text())
    angle = {"camera_angle_x": 0.8, "frames": [
        {"file_path": "images/0", "transform_matrix": np.eye(4)[:3].tolist()}]}
    return [full, angle]


def _transforms(data: bytes, folder: Path) -> int:
    from PIL import Image

    from setsplat.reconstruct.transforms_json import read_transforms

    (folder / "images").mkdir()
    Image.new("RGB", (64, 48)).save(folder / "images" / "0.png")
    (folder / "transforms.json").write_bytes(data)
    read_transforms(folder / "transforms.json")
    return len(data)


@cache
def _cameras_seeds() -> list[Any]:
    from setsplat.core.camera import Camera

    cameras = [Camera.look_at([1.0, 0, 2], [0, 0, 0], width=64, height=48, name="a.png")]
    cameras[0].model, cameras[0].distortion = "OPENCV", {"k1": 0.1, "k2": 0, "p1": 0, "p2": 0}
    return [{"version": 1, "cameras": [c.to_dict() for c in cameras],
             "meta": {"unscaled": True, "upright": "floor"}}]


def _cameras(data: bytes, folder: Path) -> int:
    from setsplat.core.camera import read_camera_meta, read_cameras

    (folder / "cameras.json").write_bytes(data)
    read_cameras(folder / "cameras.json")
    read_camera_meta(folder / "cameras.json")
    return len(data)


@cache
def _capture_seeds() -> list[Any]:
    image = {"name": "images/a.jpg", "source": "a.jpg", "sha256": "0" * 64, "width": 64,
             "height": 48, "source_size": [64, 48], "bit_depth": 8,
             "camera": {"make": "X", "model": "Y", "orientation": 1},
             "intrinsics_prior": {"fx": 50.0, "fy": 50.0, "cx": 32, "cy": 24,
                                  "source": "exif"},
             "timestamp": None, "timestamp_source": None, "scores": {"blur": 1.0},
             "use": True, "flags": []}
    return [{"version": 1, "kind": "photos", "source": "/x", "checked": True,
             "keep_all": False, "images": [image, {**image, "name": "images/b.jpg"}],
             "skipped": []}]


def _capture(data: bytes, folder: Path) -> int:
    from setsplat.capture.manifest import read_capture
    from setsplat.reconstruct.inputs import open_capture

    (folder / "images").mkdir()
    (folder / "capture.json").write_bytes(data)
    capture = read_capture(folder)
    [capture.path(image) for image in capture.selected()]
    try:
        open_capture(folder)  # what SfM reads: sizes of the selected photos
    except Exception as exc:
        from setsplat.core.errors import SetsplatError

        if not isinstance(exc, SetsplatError) or "SfM needs" not in exc.what:
            raise
    return len(data)


@cache
def _keyframe_seeds() -> list[Any]:
    return [{"ease": True, "keys": [
        {"frame": 1001, "position": [0, 1.5, 2], "look_at": [0, 1, 0], "focal_mm": 35},
        {"frame": 1024, "position": [1, 1.5, 2], "rotation": [1, 0, 0, 0]},
        {"frame": 1048, "position": [2, 1.5, 2], "rotate_xyz": [0, 90, 0]}]}]


def _keyframes_input(source: Source) -> tuple[str, bytes]:
    import yaml

    kind = source.integer(0, 2)
    if kind == 0:
        return "k.json", _documents(_keyframe_seeds)(source)
    if kind == 1:
        document = damaged_document(source, _keyframe_seeds())
        return "k.yaml", yaml.safe_dump(document).encode()
    return "k.yaml", damaged_bytes(source, [yaml.safe_dump(d).encode()
                                            for d in _keyframe_seeds()])


def _keyframes(sample: tuple[str, bytes], folder: Path) -> int:
    from setsplat.shots.paths import evaluate, load_keyframes

    name, data = sample
    (folder / name).write_bytes(data)
    spec = load_keyframes(folder / name)
    evaluate(spec, range(990, 1060, 7), 35.0)
    return len(data)


# ----------------------------------------------------------------------------- checkpoints
@cache
def _checkpoint_seeds() -> list[bytes]:
    import tempfile

    import torch

    from setsplat.reconstruct.train import checkpoint

    state = {"step": 3, "params": {"means": torch.zeros(2, 3)},
             "optimizers": {"means": {"state": {0: {"step": torch.tensor(3.0)}},
                                      "param_groups": [{"lr": 0.1, "params": [0]}]}},
             "order": torch.ByteTensor([1, 2]), "losses": [0.5]}
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint.save(Path(tmp) / "c.safetensors", state)
        return [(Path(tmp) / "c.safetensors").read_bytes()]


def _checkpoint(data: bytes, folder: Path) -> int:
    import torch

    from setsplat.reconstruct.train import checkpoint

    (folder / "c.safetensors").write_bytes(data)
    checkpoint.load(folder / "c.safetensors", torch.device("cpu"))
    return len(data)


# ----------------------------------------------------------------------------- catalog rows
_COLUMNS = {"versions": ["version", "state", "interface", "splats", "sh_degree", "extent",
                         "source", "deprecated_at", "purged", "published_at", "bytes"],
            "files": ["path", "role", "bytes", "sha256"],
            "assets": ["name", "created_at"], "tags": ["tag"],
            "shots": ["name", "path", "frame_start", "frame_end", "fps", "width", "height",
                      "focal_mm", "episode"],
            "schema_version": ["version"], "catalog_info": ["value"]}
_ROW_TEXT = ["../../../../etc/passwd", "/etc/passwd", "v001", "", "Set_Office", "published",
             "pending", "EP01_SH010", '{"kind": "preset"}', "[]", "a" * 64, "Set_Office.usda"]


@cache
def _library() -> Path:
    """A library with one published set and one shot, made once per process."""
    import tempfile

    from setsplat.assets import PublishOptions, publish
    from setsplat.core.io import ply
    from setsplat.core.progress import set_quiet
    from setsplat.shots.create import ShotOptions, new_shot

    set_quiet(True)
    root = Path(tempfile.mkdtemp(prefix="setsplat-fuzz-", dir=SCRATCH_PARENT))
    ply.write(root / "scene.ply", random_scene(200, degree=1))
    library = root / "lib"
    from setsplat.assets import Library

    publish(root / "scene.ply", PublishOptions(name="Set_Office", thumbnails=False, mesh=None),
            Library.resolve(library))
    new_shot("EP01_SH010", ShotOptions(asset="Set_Office@1", frames=2, resolution=(64, 36)),
             Library.resolve(library))
    return library


def _row_value(source: Source) -> Any:
    kind = source.integer(0, 5)
    if kind == 0:
        return None
    if kind == 1:
        return source.integer(-2**63, 2**63 - 1)
    if kind == 2:
        return source.choice((0.5, -1.0, 1e308, float("inf")))
    if kind == 3:
        return source.binary(20)
    return source.choice(_ROW_TEXT)


def _catalog_input(source: Source) -> tuple[str, Any, bool]:
    """Damaged bytes of the catalog, or damaged rows; one input in eight is verified too
    (hashes and USD composition: slower than the rest put together)."""
    verify = source.integer(0, 7) == 0
    if source.integer(0, 2) == 0:
        return "bytes", damaged_bytes(source, [_catalog_seed()]), verify
    updates = []
    for _ in range(source.integer(1, 3)):
        table = source.choice(sorted(_COLUMNS))
        updates.append((table, source.choice(_COLUMNS[table]), _row_value(source)))
    return "rows", updates, verify


@cache
def _catalog_seed() -> bytes:
    return (_library() / "catalog.sqlite").read_bytes()


def _catalog(sample: tuple[str, Any, bool], folder: Path) -> int:
    library = _library()  # its files are only read; the catalog is written afresh
    for stale in library.glob("catalog.sqlite-*"):
        stale.unlink()
    kind, change, verify = sample
    # a new file each time: a refused catalog's connection may linger until collected
    (library / "new.sqlite").write_bytes(change if kind == "bytes" else _catalog_seed())
    os.replace(library / "new.sqlite", library / "catalog.sqlite")
    if kind == "rows":
        with contextlib.closing(sqlite3.connect(library / "catalog.sqlite")) as db, db:
            db.execute("PRAGMA ignore_check_constraints = ON")
            db.execute("PRAGMA synchronous = OFF")
            for table, column, value in change:
                with contextlib.suppress(sqlite3.IntegrityError):  # NOT NULL, UNIQUE
                    db.execute(f"UPDATE {table} SET {column} = ?", (value,))
    _read_library(library, verify)
    return (library / "catalog.sqlite").stat().st_size


def _read_library(root: Path, verify: bool) -> None:
    """What list, show, search, path, verify and shots list/show read."""
    from setsplat.assets import Library, resolve
    from setsplat.assets.catalog import Catalog
    from setsplat.assets.verify import check_version
    from setsplat.shots import store

    library = Library.resolve(root)
    with Catalog(library.catalog_path) as catalog:
        records = catalog.versions(include_removed=True)
        catalog.search(text="Set", all_versions=True)
        for record in records:
            for entry in catalog.files(record["id"]):
                library.stored_path(record, entry["path"])
            catalog.tags(record["name"])
            library.stored_path(record, record["interface"])
            if verify:
                check_version(library, catalog, record)
        for shot, _ in store.list_shots(catalog):
            store.get_shot(catalog, shot.name)
    resolve("Set_Office@latest", library)


TARGETS = [
    Target("ply", lambda s: damaged_bytes(s, _ply_seeds()), _ply),
    Target("spz", lambda s: damaged_bytes(s, _spz_seeds()), _spz, multiple=8192),
    Target("splat", lambda s: damaged_bytes(s, _scene_seeds(".splat")),
           lambda data, folder: _scene_file(folder, "s.splat", data)),
    Target("gltf", _gltf_input, _gltf),
    Target("colmap-binary", _colmap_input(True), _colmap(True)),
    Target("colmap-text", _colmap_input(False), _colmap(False)),
    Target("transforms.json", _documents(_transforms_seeds), _transforms),
    Target("cameras.json", _documents(_cameras_seeds), _cameras),
    Target("capture.json", _documents(_capture_seeds), _capture),
    Target("keyframes", _keyframes_input, _keyframes),
    Target("checkpoint", lambda s: damaged_bytes(s, _checkpoint_seeds()), _checkpoint),
    Target("catalog", _catalog_input, _catalog, multiple=256),
]
