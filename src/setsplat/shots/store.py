"""Shots, their AI takes and their renders in the library's catalog (SQLite).

The shots area owns its tables: ``MIGRATIONS`` brings them up to date the first time a
catalog is opened here (``Catalog.migrate_area``); the asset catalog never needs them.
A shot points at one published asset version; its takes are files under
``<library>/shots/<Shot>/takes/`` with their SHA-256; renders are folders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from setsplat.assets import Library
from setsplat.assets.catalog import Catalog
from setsplat.assets.catalogs import open_catalog as open_asset_catalog
from setsplat.core.clock import now
from setsplat.core.errors import SetsplatError

from .model import Lens, Shot, check_shot_name, natural_key

SHOTS_FOLDER = "shots"

# MIGRATIONS[i] brings the shots tables from version i to i + 1. The first one was the
# asset catalog's step 1 -> 2 before the tables moved here, hence IF NOT EXISTS.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS shots (
        id                  INTEGER PRIMARY KEY,
        name                TEXT NOT NULL UNIQUE COLLATE NOCASE,
        episode             TEXT NOT NULL COLLATE NOCASE,
        version_id          INTEGER NOT NULL REFERENCES versions(id),
        path                TEXT NOT NULL,
        frame_start         INTEGER NOT NULL,
        frame_end           INTEGER NOT NULL CHECK (frame_end >= frame_start),
        fps                 REAL NOT NULL CHECK (fps > 0),
        focal_mm            REAL NOT NULL CHECK (focal_mm > 0),
        filmback_width_mm   REAL NOT NULL CHECK (filmback_width_mm > 0),
        filmback_height_mm  REAL NOT NULL CHECK (filmback_height_mm > 0),
        width               INTEGER NOT NULL CHECK (width > 0),
        height              INTEGER NOT NULL CHECK (height > 0),
        notes               TEXT NOT NULL DEFAULT '',
        created_at          TEXT NOT NULL,
        updated_at          TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS shots_episode ON shots(episode);
    CREATE TABLE IF NOT EXISTS takes (
        id              INTEGER PRIMARY KEY,
        shot_id         INTEGER NOT NULL REFERENCES shots(id) ON DELETE CASCADE,
        take            INTEGER NOT NULL CHECK (take > 0),
        path            TEXT NOT NULL,
        original_name   TEXT NOT NULL,
        source          TEXT NOT NULL DEFAULT '',
        sha256          TEXT NOT NULL CHECK (length(sha256) = 64),
        bytes           INTEGER NOT NULL,
        width           INTEGER NOT NULL,
        height          INTEGER NOT NULL,
        fps             REAL NOT NULL,
        frames          INTEGER NOT NULL,
        duration_s      REAL NOT NULL,
        codec           TEXT NOT NULL,
        selected        INTEGER NOT NULL DEFAULT 0,
        created_at      TEXT NOT NULL,
        UNIQUE (shot_id, take)
    );
    CREATE UNIQUE INDEX IF NOT EXISTS takes_one_selected ON takes(shot_id) WHERE selected = 1;
    CREATE TABLE IF NOT EXISTS renders (
        id              INTEGER PRIMARY KEY,
        shot_id         INTEGER NOT NULL REFERENCES shots(id) ON DELETE CASCADE,
        folder          TEXT NOT NULL,
        frame_start     INTEGER NOT NULL,
        frame_end       INTEGER NOT NULL,
        fps             REAL NOT NULL,
        width           INTEGER NOT NULL,
        height          INTEGER NOT NULL,
        exr             INTEGER NOT NULL,
        backend         TEXT NOT NULL,
        seconds         REAL NOT NULL,
        created_at      TEXT NOT NULL
    );
    """,
]

_SHOT_COLUMNS = """
    s.id AS id, s.name AS name, s.episode AS episode, s.version_id AS version_id,
    a.name AS asset_name, v.version AS asset_version, s.path AS path,
    s.frame_start AS frame_start, s.frame_end AS frame_end, s.fps AS fps,
    s.focal_mm AS focal_mm, s.filmback_width_mm AS filmback_width_mm,
    s.filmback_height_mm AS filmback_height_mm, s.width AS width, s.height AS height,
    s.notes AS notes, s.created_at AS created_at, s.updated_at AS updated_at
"""
_SHOT_FROM = ("FROM shots s JOIN versions v ON v.id = s.version_id "
              "JOIN assets a ON a.id = v.asset_id")


def shot_dir(library: Library, name: str) -> Path:
    return library.root / SHOTS_FOLDER / check_shot_name(name)


def open_catalog(library: Library) -> Catalog:
    library.require()
    catalog = open_asset_catalog(library)
    try:
        catalog.migrate_area("shots", MIGRATIONS)
    except BaseException:
        catalog.close()
        raise
    return catalog


def _shot(row: dict[str, Any]) -> Shot:
    """A shot row as a Shot; a damaged row (wrong types, bad JSON) is a one-line error."""
    try:
        return Shot(name=row["name"], asset=f"{row['asset_name']}@{row['asset_version']}",
                    path=json.loads(row["path"]), frame_start=row["frame_start"],
                    frame_end=row["frame_end"], fps=row["fps"],
                    lens=Lens(row["focal_mm"], (row["filmback_width_mm"],
                                                row["filmback_height_mm"])),
                    resolution=(row["width"], row["height"]), notes=row["notes"])
    except (TypeError, ValueError, RecursionError) as exc:
        raise SetsplatError(f"the catalog holds a damaged row for shot {row['name']!r} "
                            f"({type(exc).__name__})", "make the shot again with "
                            "`setsplat shots new --replace`") from None


def save_shot(catalog: Catalog, shot: Shot, version_id: int, replace: bool = False) -> int:
    """Insert (or with ``replace`` update) a shot; returns its row id."""
    values = (shot.episode, version_id, json.dumps(shot.path), shot.frame_start,
              shot.frame_end, shot.fps, shot.lens.focal_mm, shot.lens.filmback_mm[0],
              shot.lens.filmback_mm[1], shot.resolution[0], shot.resolution[1], shot.notes)
    with catalog.write() as db:
        row = db.execute("SELECT id, name FROM shots WHERE name = ?", (shot.name,)).fetchone()
        if row is not None and not replace:
            raise SetsplatError(f"a shot named {row['name']} already exists",
                                "give --replace to redefine it (its takes are kept)")
        if row is not None and row["name"] != shot.name:
            raise SetsplatError(f"a shot named {row['name']} already exists",
                                f"names ignore case; use {row['name']}")
        stamp = now()
        if row is None:
            return db.execute(
                "INSERT INTO shots (episode, version_id, path, frame_start, frame_end, fps, "
                "focal_mm, filmback_width_mm, filmback_height_mm, width, height, notes, name, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id", (*values, shot.name, stamp, stamp)).fetchone()[0]
        db.execute(
            "UPDATE shots SET episode = ?, version_id = ?, path = ?, frame_start = ?, "
            "frame_end = ?, fps = ?, focal_mm = ?, filmback_width_mm = ?, "
            "filmback_height_mm = ?, width = ?, height = ?, notes = ?, updated_at = ? "
            "WHERE id = ?", (*values, stamp, row["id"]))
        return row["id"]


def shot_row(catalog: Catalog, name: str) -> dict[str, Any]:
    rows = catalog.query(f"SELECT {_SHOT_COLUMNS} {_SHOT_FROM} WHERE s.name = ?",
                         (check_shot_name(name),))
    if not rows:
        raise SetsplatError(f"no shot named {name!r} in the catalog",
                            "see `setsplat shots list`, or make it with `setsplat shots new`",
                            catalog.path)
    return rows[0]


def get_shot(catalog: Catalog, name: str) -> tuple[Shot, dict[str, Any]]:
    """The shot and its catalog row (``id``, ``version_id``, dates)."""
    row = shot_row(catalog, name)
    return _shot(row), row


def list_shots(catalog: Catalog, episode: str | None = None,
               version_id: int | None = None) -> list[tuple[Shot, dict[str, Any]]]:
    """Shots in natural name order, of one episode or one asset version if given."""
    where, params = [], []
    if episode is not None:
        where.append("s.episode = ?")
        params.append(episode)
    if version_id is not None:
        where.append("s.version_id = ?")
        params.append(version_id)
    sql = f"SELECT {_SHOT_COLUMNS} {_SHOT_FROM}" + (f" WHERE {' AND '.join(where)}"
                                                    if where else "")
    rows = sorted(catalog.query(sql, params), key=lambda r: natural_key(str(r["name"])))
    return [(_shot(r), r) for r in rows]


# ----------------------------------------------------------------------------- takes
def takes(catalog: Catalog, shot_id: int) -> list[dict[str, Any]]:
    rows = catalog.query("SELECT * FROM takes WHERE shot_id = ? ORDER BY take", (shot_id,))
    for row in rows:
        row["selected"] = bool(row["selected"])
    return rows


def select_take(catalog: Catalog, shot_id: int, take: int) -> None:
    with catalog.write() as db:
        if db.execute("SELECT 1 FROM takes WHERE shot_id = ? AND take = ?",
                      (shot_id, take)).fetchone() is None:
            known = [r[0] for r in db.execute("SELECT take FROM takes WHERE shot_id = ? "
                                              "ORDER BY take", (shot_id,))]
            raise SetsplatError(f"the shot has no take {take}",
                                f"its takes: {', '.join(map(str, known)) or 'none yet'}")
        db.execute("UPDATE takes SET selected = 0 WHERE shot_id = ?", (shot_id,))
        db.execute("UPDATE takes SET selected = 1 WHERE shot_id = ? AND take = ?",
                   (shot_id, take))


# ----------------------------------------------------------------------------- renders
def add_render(catalog: Catalog, shot_id: int, record: dict[str, Any]) -> None:
    with catalog.write() as db:
        db.execute("INSERT INTO renders (shot_id, folder, frame_start, frame_end, fps, width, "
                   "height, exr, backend, seconds, created_at) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (shot_id, record["folder"], record["frame_start"], record["frame_end"],
                    record["fps"], record["width"], record["height"], int(record["exr"]),
                    record["backend"], record["seconds"], now()))


def renders(catalog: Catalog, shot_id: int) -> list[dict[str, Any]]:
    """Renders of a shot, newest first."""
    return catalog.query("SELECT * FROM renders WHERE shot_id = ? ORDER BY id DESC",
                         (shot_id,))
