"""Where a published scene came from: the source, its capture, SfM and training records.

SOURCE is a scene file (PLY, USD) or a training output folder. In a folder we look for
the scene (``scene.ply``, else the newest INRIA ``point_cloud/iteration_N``, else the
only PLY) and, two levels down or one level down from its parent run folder, the
records the other stages write: ``capture.json``, ``sfm_report.json``, the training
config and ``metrics.json``. Beside a scene file we only look in its own folder.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import sha256_file
from setsplat.core.io import CODECS

SCENE_NAMES = ("scene.ply", "splats.ply", "point_cloud.ply")
CAPTURE_NAMES = ("capture.json",)
SFM_NAMES = ("sfm_report.json",)
CONFIG_NAMES = ("config.json", "train_config.json", "training_config.json", "cfg.json")
METRICS_NAMES = ("metrics.json", "results.json")
CAMERAS_NAMES = ("cameras.json",)


@dataclass
class Source:
    """The scene file to publish and the training/run folder it came from (if any)."""

    scene: Path
    folder: Path | None = None
    records: dict[str, Path] = field(default_factory=dict)


def find_source(path: str | os.PathLike) -> Source:
    path = Path(path).absolute()
    if not path.exists():
        raise SetsplatError("no such file or folder", "give a PLY file or a training output "
                            "folder", path)
    if path.is_file():
        if path.suffix.lower() not in CODECS:
            raise SetsplatError(f"cannot publish a {path.suffix or 'suffix-less'} file",
                                "give a scene (.ply, .usd) or a training output folder", path)
        return Source(path, None, _records([(path.parent, 0)]))
    scene = _scene_in(path)
    return Source(scene, path, _records([(path, 2), (path.parent, 1)]))


def _scene_in(folder: Path) -> Path:
    for name in SCENE_NAMES:
        if (folder / name).is_file():
            return folder / name
    iterations = sorted(folder.glob("point_cloud/iteration_*/point_cloud.ply"),
                        key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))
    if iterations:
        return iterations[-1]
    plys = sorted(folder.glob("*.ply"))
    if len(plys) == 1:
        return plys[0]
    found = ", ".join(p.name for p in plys[:4])
    raise SetsplatError(
        "no scene in this folder" if not plys else f"several PLY files here ({found})",
        "give the scene file itself, or a training output folder with scene.ply", folder)


def _records(places: list[tuple[Path, int]]) -> dict[str, Path]:
    """The first of each record found in the (folder, depth) places, in order."""
    wanted = {"capture": CAPTURE_NAMES, "sfm": SFM_NAMES, "config": CONFIG_NAMES,
              "metrics": METRICS_NAMES, "cameras": CAMERAS_NAMES}
    found: dict[str, Path] = {}
    for base, depth in places:
        candidates = _files_within(base, depth)
        for kind, names in wanted.items():
            if kind in found:
                continue
            for name in names:
                match = next((c for c in candidates if c.name == name), None)
                if match is not None:
                    found[kind] = match
                    break
    return found


def _files_within(folder: Path, depth: int) -> list[Path]:
    out: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return out
    out += [e for e in entries if e.is_file()]
    if depth > 0:
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                out += _files_within(entry, depth - 1)
    return out


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return {"unreadable": f"{path}: {exc}"}


def software_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from pxr import Usd

    import setsplat

    versions = {"setsplat": setsplat.__version__, "python": sys.version.split()[0],
                "platform": platform.platform(), "usd": ".".join(map(str, Usd.GetVersion()))}
    for package in ("numpy", "torch", "gsplat", "pycolmap"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def collect(source: Source, source_sha256: str, scene_meta: dict[str, Any],
            extra: dict[str, Any]) -> dict[str, Any]:
    """The provenance record written as ``provenance.json`` beside the asset."""
    records = source.records
    capture: dict[str, Any] = {}
    if "capture" in records:
        capture = {"path": os.fspath(records["capture"]),
                   "sha256": sha256_file(records["capture"])}
    return {
        **extra,
        "source": {"path": os.fspath(source.scene), "sha256": source_sha256,
                   "folder": os.fspath(source.folder) if source.folder else None},
        "capture": capture or scene_meta.get("provenance", {}).get("capture"),
        "sfm_report": _load_json(records["sfm"]) if "sfm" in records else None,
        "training": {
            "config": _load_json(records["config"]) if "config" in records else None,
            "metrics": _load_json(records["metrics"]) if "metrics" in records else None,
        },
        "scene_meta": scene_meta,
        "published_by": f"{_user()}@{socket.gethostname()}",
        "software": software_versions(),
    }


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
