"""AI clips: generated videos registered against a shot as numbered takes.

A take is probed (PyAV: size, rate, frames), hashed, copied into
``<library>/shots/<Shot>/takes/<Shot>_take003.mp4`` (written aside, fsync'd, renamed)
and listed in the catalog in one transaction. The first take of a shot is selected;
later ones when asked. Mismatches with the shot (rate, length, shape) are warnings.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from setsplat.assets import Library
from setsplat.core.clock import now
from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.fsutil import default_mode, fsync_dir, sha256_file

from . import store
from .model import Shot
from .mp4 import VideoInfo, probe

TAKES_FOLDER = "takes"


def mismatches(shot: Shot, info: VideoInfo) -> list[str]:
    """How a clip differs from its shot, one phrase each (empty when it fits)."""
    found = []
    if not math.isclose(info.fps, shot.fps, rel_tol=1e-3):
        found.append(f"it runs at {info.fps:g} fps, the shot at {shot.fps:g} fps")
    if abs(info.duration_s - shot.duration_s) > 0.5 / shot.fps:
        found.append(f"it lasts {info.duration_s:.3f} s ({info.frames} frames), the shot "
                     f"{shot.duration_s:.3f} s ({shot.frame_count} frames)")
    if not math.isclose(info.width / info.height, shot.resolution[0] / shot.resolution[1],
                        rel_tol=0.01):
        found.append(f"it is {info.width}x{info.height}, the shot "
                     f"{shot.resolution[0]}x{shot.resolution[1]}")
    return found


def add_clip(name: str, clip: str | os.PathLike, source: str = "",
             library: Library | None = None, select: bool | None = None) -> dict[str, Any]:
    """Register ``clip`` as the next take of shot ``name``; returns the take's record
    with ``warnings``. ``select`` None selects the shot's first take only."""
    library = library or Library.resolve()
    clip = Path(clip)
    with store.open_catalog(library) as catalog:
        shot, row = store.get_shot(catalog, name)
        info = probe(clip)
        folder = store.shot_dir(library, shot.name) / TAKES_FOLDER
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = _copy_aside(clip, folder)
        except OSError as exc:
            raise os_error(exc, getattr(exc, "filename", None) or folder,
                           "copying the clip into the library") from exc
        try:
            digest = sha256_file(tmp)
            if digest != sha256_file(clip):
                raise SetsplatError("changed while it was being copied", "copy it again", clip)
            take = _register(catalog, row["id"], shot, tmp, clip, info, digest, source, select)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    take["warnings"] = mismatches(shot, info)
    take["path"] = str(library.root / take["path"])
    return take


def _copy_aside(clip: Path, folder: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=".take.", suffix=".part", dir=folder)
    os.fchmod(fd, default_mode())
    with os.fdopen(fd, "wb") as out, open(clip, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 22)
        out.flush()
        os.fsync(out.fileno())
    return Path(name)


def _register(catalog: Any, shot_id: int, shot: Shot, tmp: Path, clip: Path, info: VideoInfo,
              digest: str, source: str, select: bool | None) -> dict[str, Any]:
    """Number the take, move the file into place and add its row: one transaction (a
    failed commit takes the moved file back out)."""
    moved: list[Path] = []
    try:
        return _insert(catalog, shot_id, shot, tmp, clip, info, digest, source, select, moved)
    except BaseException:
        for path in moved:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise


def _insert(catalog: Any, shot_id: int, shot: Shot, tmp: Path, clip: Path, info: VideoInfo,
            digest: str, source: str, select: bool | None, moved: list[Path]
            ) -> dict[str, Any]:
    with catalog.write() as db:
        top = db.execute("SELECT COALESCE(MAX(take), 0), COUNT(*) FROM takes WHERE shot_id = ?",
                         (shot_id,)).fetchone()
        number, first = top[0] + 1, top[1] == 0
        selected = first if select is None else select
        relative = (Path(store.SHOTS_FOLDER) / shot.name / TAKES_FOLDER
                    / f"{shot.name}_take{number:03d}{clip.suffix.lower() or '.mp4'}")
        final = tmp.parent / relative.name  # tmp waits in the shot's takes folder
        if selected:
            db.execute("UPDATE takes SET selected = 0 WHERE shot_id = ?", (shot_id,))
        db.execute(
            "INSERT INTO takes (shot_id, take, path, original_name, source, sha256, bytes, "
            "width, height, fps, frames, duration_s, codec, selected, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (shot_id, number, relative.as_posix(), clip.name, source, digest,
             tmp.stat().st_size, info.width, info.height, info.fps, info.frames,
             info.duration_s, info.codec, int(selected), now()))
        try:
            os.replace(tmp, final)
            moved.append(final)
            fsync_dir(final.parent)
        except OSError as exc:
            raise os_error(exc, final, "moving the clip into place") from exc
    return {"shot": shot.name, "take": number, "path": relative.as_posix(),
            "original_name": clip.name, "source": source, "sha256": digest,
            "bytes": final.stat().st_size, "selected": bool(selected), **info.as_dict()}
