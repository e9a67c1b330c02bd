"""The catalog: a SQLite index of assets, versions, their files (SHA-256) and tags.

WAL journal (readers never wait for a publisher) on local disks; on a network filesystem
SQLite's rollback journal instead, because WAL's shared-memory index only works among
processes of one machine (``journal_mode``). Foreign keys on, a ``schema_version``
table and ordered migrations. Writers take the write lock up front (``BEGIN IMMEDIATE``)
so that two publishers are serialised instead of failing half-way. A version is first
*reserved* (state ``pending``, owned by a live process) and becomes ``published`` in
one transaction once its folder is complete; nothing pending is ever listed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from setsplat.core.clock import now
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import on_network_filesystem

from .library import Ref, check_tag

APPLICATION = "setsplat-catalog"
BUSY_TIMEOUT_S = 60.0
JOURNAL_ENV = "SETSPLAT_CATALOG_JOURNAL"  # wal | delete: overrides the filesystem check

# MIGRATIONS[i] brings a catalog from schema version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE catalog_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE assets (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE versions (
        id                INTEGER PRIMARY KEY,
        asset_id          INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
        version           INTEGER NOT NULL CHECK (version > 0),
        state             TEXT NOT NULL CHECK (state IN ('pending', 'published', 'removed')),
        owner             TEXT,
        created_at        TEXT NOT NULL,
        published_at      TEXT,
        description       TEXT NOT NULL DEFAULT '',
        splats            INTEGER,
        preview_splats    INTEGER,
        sh_degree         INTEGER,
        half              INTEGER,
        unscaled          INTEGER,
        bytes             INTEGER,
        extent            TEXT,
        source            TEXT,
        source_sha256     TEXT,
        interface         TEXT,
        deprecated_at     TEXT,
        deprecated_reason TEXT,
        removed_at        TEXT,
        purged            INTEGER NOT NULL DEFAULT 0,
        UNIQUE (asset_id, version)
    );
    CREATE INDEX versions_state ON versions(state);
    CREATE TABLE files (
        version_id  INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
        path        TEXT NOT NULL,
        role        TEXT NOT NULL,
        bytes       INTEGER NOT NULL,
        sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
        PRIMARY KEY (version_id, path)
    );
    CREATE TABLE tags (
        asset_id    INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
        tag         TEXT NOT NULL,
        PRIMARY KEY (asset_id, tag)
    );
    CREATE INDEX tags_tag ON tags(tag);
    """,
    # 1 -> 2 created the shots tables; they now belong to setsplat.shots, which migrates
    # them on its own (see ``migrate_area``), so a new catalog gets them on first use.
    "",
    # 2 -> 3: what the mesh representation holds ('proxy' or 'placeholder'; NULL before)
    """
    ALTER TABLE versions ADD COLUMN mesh TEXT;
    ALTER TABLE versions ADD COLUMN mesh_triangles INTEGER;
    """,
    # 3 -> 4: nothing new; marks catalogs whose shots tables may not exist yet, so an
    # older setsplat (which expects them from 1 -> 2) refuses the catalog instead.
    "",
]
SCHEMA_VERSION = len(MIGRATIONS)

_CORRUPT_HINT = "restore catalog.sqlite from a backup, or point --library at another folder"

# What `list`, `show` and `search` return for a version, joined with its asset's name.
_VERSION_COLUMNS = """
    a.name AS name, v.id AS id, v.version AS version, v.state AS state,
    v.created_at AS created_at, v.published_at AS published_at,
    v.description AS description, v.splats AS splats, v.preview_splats AS preview_splats,
    v.sh_degree AS sh_degree, v.half AS half, v.unscaled AS unscaled, v.bytes AS bytes,
    v.extent AS extent, v.source AS source, v.source_sha256 AS source_sha256,
    v.interface AS interface, v.deprecated_at AS deprecated_at,
    v.deprecated_reason AS deprecated_reason, v.removed_at AS removed_at, v.purged AS purged,
    v.mesh AS mesh, v.mesh_triangles AS mesh_triangles
"""


class Catalog:
    """One open catalog. Reads run in autocommit; writes go through ``write()``."""

    def __init__(self, path: str | Path, *, create: bool = False,
                 migrations: Sequence[str] = MIGRATIONS) -> None:
        self.path = Path(path)
        self._migrations = list(migrations)
        if not create and not self.path.is_file():
            raise SetsplatError("no catalog here", "publish an asset first", self.path)
        self._journal = journal_mode(self.path)
        self.readonly = False
        try:
            with self._guard():
                self._open(create)
        except BaseException:
            if hasattr(self, "db"):  # a catalog we refuse is not left open
                self.db.close()
            raise

    def _open(self, create: bool) -> None:
        try:
            self.db = self._connect(str(self.path), uri=False)
            self._check_and_migrate()
        except sqlite3.OperationalError as exc:
            if create or _kind(exc) not in (_READONLY, _CANTOPEN, _PERM):
                raise
            with contextlib.suppress(AttributeError):
                self.db.close()
            self._open_readonly()

    def _connect(self, target: str, uri: bool) -> sqlite3.Connection:
        db = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=uri)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        if not uri:
            db.execute("PRAGMA synchronous = FULL")
        return db

    def _open_readonly(self) -> None:
        """A library we may not write (read-only folder, disk or permissions) can still
        be listed, searched and verified: open it read-only (``immutable`` when a WAL
        catalog's shared-memory file cannot be made)."""
        self.readonly = True
        uri = self.path.absolute().as_uri()
        for query in ("mode=ro", "mode=ro&immutable=1"):
            try:
                self.db = self._connect(f"{uri}?{query}", uri=True)
                self._check_and_migrate()
                return
            except sqlite3.OperationalError as exc:
                if _kind(exc) != _CANTOPEN or "immutable" in query:
                    raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- plumbing ------------------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn SQLite failures into one-line errors that say what to do."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise SetsplatError(f"the catalog stayed locked for {BUSY_TIMEOUT_S:.0f} s",
                                    "another process holds it; try again", self.path) from None
            kind = _kind(exc)
            if kind == _FULL:
                raise SetsplatError(f"no room left on the disk of the library ({exc})",
                                    "free some disk space and run it again; the catalog is "
                                    "unharmed", self.path) from None
            if kind in (_READONLY, _PERM, _CANTOPEN):
                raise SetsplatError(f"the library cannot be written here ({exc})",
                                    "this command changes the library: ask for write access",
                                    self.path) from None
            if kind == _IOERR:
                raise SetsplatError(f"the disk of the library failed to read or write ({exc})",
                                    "check the disk or network share, then run it again",
                                    self.path) from None
            raise SetsplatError(f"the catalog cannot be used ({exc})", _CORRUPT_HINT,
                                self.path) from None
        except sqlite3.DatabaseError as exc:
            raise SetsplatError(f"the catalog is corrupt or not a SQLite database ({exc})",
                                _CORRUPT_HINT, self.path) from None
        except UnicodeDecodeError:  # text (or SQLite's message about it) that is not UTF-8
            raise SetsplatError("the catalog is corrupt (text that is not UTF-8)",
                                _CORRUPT_HINT, self.path) from None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the write lock from its first statement."""
        if self.readonly:
            raise SetsplatError("the library is read-only here",
                                "this command changes the library: ask for write access",
                                self.path)
        with self._guard():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.db.in_transaction:  # SQLite itself rolls back on a full disk
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts; for the tables other areas own (shots)."""
        with self._guard():
            return [dict(row) for row in self.db.execute(sql, params)]

    _query = query

    def migrate_area(self, area: str, migrations: Sequence[str]) -> None:
        """Bring the tables that an area above the assets owns (``shots``) to its latest
        schema: ``migrations[i]`` goes from version i to i + 1, and the area's version is
        kept in ``catalog_info`` as ``schema:<area>``. The assets never need those tables,
        so they do not know their SQL."""
        key = f"schema:{area}"
        if self._area_version(key) == len(migrations):
            return
        with self.write() as db:
            version = self._area_version(key)  # again, under the write lock
            if version > len(migrations):
                raise SetsplatError(
                    f"the catalog's {area} tables have schema version {version}, newer "
                    f"than this setsplat understands ({len(migrations)})", "upgrade setsplat",
                    self.path)
            for step in range(version, len(migrations)):
                for statement in _statements(migrations[step]):
                    db.execute(statement)
            db.execute("INSERT INTO catalog_info VALUES (?, ?) ON CONFLICT (key) "
                       "DO UPDATE SET value = excluded.value", (key, str(len(migrations))))

    def _area_version(self, key: str) -> int:
        with self._guard():
            row = self.db.execute("SELECT value FROM catalog_info WHERE key = ?",
                                  (key,)).fetchone()
        return 0 if row is None else int(row[0])

    def _check_and_migrate(self) -> None:
        version = self._stored_version()
        if version is not None:
            self._check_application()  # never migrate someone else's database
        if version is not None and version > len(self._migrations):
            raise SetsplatError(
                f"the catalog has schema version {version}, newer than this setsplat "
                f"understands ({len(self._migrations)})", "upgrade setsplat", self.path)
        if version != len(self._migrations) and self.readonly:
            raise SetsplatError("the catalog needs an upgrade, which a read-only library "
                                "cannot take", "open it once with write access", self.path)
        if self.readonly:
            return
        if version != len(self._migrations):
            self._set_journal(wait=True)
            with self.write() as db:
                version = self._stored_version()  # again, under the write lock
                if version is None:
                    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                    db.execute("INSERT INTO schema_version VALUES (0)")
                    version = 0
                for step in range(version, len(self._migrations)):
                    for statement in _statements(self._migrations[step]):
                        db.execute(statement)
                db.execute("UPDATE schema_version SET version = ?", (len(self._migrations),))
                db.execute("INSERT INTO catalog_info VALUES ('application', ?) "
                           "ON CONFLICT DO NOTHING", (APPLICATION,))
                db.execute("INSERT INTO catalog_info VALUES ('created_at', ?) "
                           "ON CONFLICT DO NOTHING", (now(),))
        else:
            self._set_journal(wait=False)

    @property
    def journal(self) -> str:
        return self.db.execute("PRAGMA journal_mode").fetchone()[0].lower()

    def _set_journal(self, wait: bool) -> None:
        """Put the catalog in the journal mode its filesystem wants. The switch needs the
        file to itself, and SQLite does not always wait for that (it may keep the old
        mode quietly): a new catalog retries (two first publishers may race), an open
        one tries once and otherwise stays as it is until a later open."""
        wanted = self._journal
        if self.journal == wanted:
            return
        if not wait:
            self.db.execute("PRAGMA busy_timeout = 0")
            try:
                self.db.execute(f"PRAGMA journal_mode = {wanted}")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
            finally:
                self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            return
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while self.journal != wanted:
            try:
                self.db.execute(f"PRAGMA journal_mode = {wanted}")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def table_names(self) -> list[str]:
        """The database's tables, in the order they were made."""
        return [row[0] for row in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]

    def _stored_version(self) -> int | None:
        """The schema version, None for an empty database; refuses other SQLite files."""
        tables = set(self.table_names())
        if not tables:
            return None
        if not {"schema_version", "catalog_info"} <= tables:
            raise SetsplatError("this SQLite file is not a setsplat catalog "
                                f"(it has tables {', '.join(sorted(tables)[:5])})",
                                "point --library at a setsplat library folder", self.path)
        return self.schema_version()

    def schema_version(self) -> int:
        row = self.db.execute("SELECT version FROM schema_version").fetchone()
        if row is None or type(row[0]) is not int or row[0] < 0:
            raise SetsplatError("the catalog's schema_version table is empty or damaged",
                                _CORRUPT_HINT, self.path)
        return int(row[0])

    def _check_application(self) -> None:
        row = self.db.execute(
            "SELECT value FROM catalog_info WHERE key = 'application'").fetchone()
        if row is None or row[0] != APPLICATION:
            raise SetsplatError("this SQLite file is not a setsplat catalog",
                                "point --library at a setsplat library folder", self.path)

    def integrity_problems(self) -> list[str]:
        with self._guard():
            rows = [r[0] for r in self.db.execute("PRAGMA quick_check")]
            rows += [f"foreign key broken in {r[0]}" for r in
                     self.db.execute("PRAGMA foreign_key_check")]
        return [] if rows == ["ok"] else [r for r in rows if r != "ok"]

    # ----- reservations and publishing -----------------------------------------------
    def reserve(self, name: str, owner: str, on_reserved: Callable[[int], None],
                floor: int = 0) -> tuple[int, int]:
        """Reserve the next version of ``name`` above ``floor``: (version row id, version).

        ``on_reserved(version)`` runs inside the transaction (the publisher takes its lock
        there, so a pending row never exists without a live owner). Pending, published and
        removed versions all count, so a number is never handed out twice.
        """
        with self.write() as db:
            row = db.execute("SELECT id, name FROM assets WHERE name = ?", (name,)).fetchone()
            if row is None:
                asset_id = db.execute("INSERT INTO assets (name, created_at) VALUES (?, ?) "
                                      "RETURNING id", (name, now())).fetchone()[0]
            elif row["name"] != name:
                raise SetsplatError(f"an asset named {row['name']!r} already exists",
                                    f"names ignore case; publish as {row['name']}")
            else:
                asset_id = row["id"]
            top = db.execute("SELECT COALESCE(MAX(version), 0) FROM versions WHERE asset_id = ?",
                             (asset_id,)).fetchone()[0]
            version = max(top, floor) + 1
            on_reserved(version)
            row = db.execute(
                "INSERT INTO versions (asset_id, version, state, owner, created_at) "
                "VALUES (?, ?, 'pending', ?, ?) RETURNING id",
                (asset_id, version, owner, now())).fetchone()
            return row[0], version

    def state(self, version_id: int) -> str | None:
        rows = self._query("SELECT state FROM versions WHERE id = ?", (version_id,))
        return rows[0]["state"] if rows else None

    def resolve_id(self, version_id: int) -> dict[str, Any]:
        sql = (f"SELECT {_VERSION_COLUMNS} FROM versions v JOIN assets a ON a.id = v.asset_id "
               "WHERE v.id = ?")
        return self._decorate(self._query(sql, (version_id,))[0])

    def complete(self, version_id: int, fields: dict[str, Any],
                 files: Sequence[dict[str, Any]], tags: Sequence[str]) -> None:
        """Publish a reserved version, its files and the asset's new tags: one transaction."""
        columns = ", ".join(f"{key} = ?" for key in fields)
        with self.write() as db:
            updated = db.execute(
                f"UPDATE versions SET state = 'published', owner = NULL, published_at = ?, "
                f"{columns} WHERE id = ? AND state = 'pending'",
                (now(), *fields.values(), version_id)).rowcount
            if updated != 1:
                raise SetsplatError("the reserved version vanished from the catalog",
                                    "another process cleaned it up; publish again", self.path)
            db.executemany(
                "INSERT INTO files (version_id, path, role, bytes, sha256) VALUES (?, ?, ?, ?, ?)",
                [(version_id, f["path"], f["role"], f["bytes"], f["sha256"]) for f in files])
            asset_id = db.execute("SELECT asset_id FROM versions WHERE id = ?",
                                  (version_id,)).fetchone()[0]
            db.executemany("INSERT INTO tags VALUES (?, ?) ON CONFLICT DO NOTHING",
                           [(asset_id, check_tag(t)) for t in tags])

    def pending(self, name: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT a.name AS name, v.id AS id, v.version AS version, v.owner AS owner "
               "FROM versions v JOIN assets a ON a.id = v.asset_id WHERE v.state = 'pending'")
        return self._query(sql + (" AND a.name = ?" if name else ""), (name,) if name else ())

    def drop_pending(self, version_id: int) -> None:
        with self.write() as db:
            db.execute("DELETE FROM versions WHERE id = ? AND state = 'pending'", (version_id,))

    # ----- reading -------------------------------------------------------------------
    def resolve(self, ref: Ref, *, removed_too: bool = False) -> dict[str, Any]:
        """The published version a reference names (``@latest``: newest not deprecated);
        ``removed_too`` also finds a removed version by its number (to purge it)."""
        asset = self._query("SELECT id, name FROM assets WHERE name = ?", (ref.name,))
        if not asset:
            raise SetsplatError(f"no asset named {ref.name!r} in the catalog",
                                "see `setsplat assets list`", self.path)
        rows = self.versions(ref.name, include_removed=True)
        if ref.version is None:
            current = [r for r in rows if r["state"] == "published" and not r["deprecated_at"]]
            if not current:
                raise SetsplatError(f"{ref.name} has no current version (all are deprecated "
                                    "or removed)", f"name one explicitly, e.g. {ref.name}@1")
            return current[-1]
        match = [r for r in rows if r["version"] == ref.version]
        if not match:
            known = ", ".join(str(r["version"]) for r in rows if r["state"] == "published")
            raise SetsplatError(f"{ref.name} has no version {ref.version}",
                                f"published versions: {known or 'none'}")
        if match[0]["state"] == "removed" and not removed_too:
            raise SetsplatError(f"{ref.name}@{ref.version} was removed on "
                                f"{match[0]['removed_at'][:10]}", "use another version")
        return match[0]

    def versions(self, name: str | None = None, *,
                 include_removed: bool = False) -> list[dict[str, Any]]:
        states = "('published', 'removed')" if include_removed else "('published')"
        sql = (f"SELECT {_VERSION_COLUMNS} FROM versions v JOIN assets a ON a.id = v.asset_id "
               f"WHERE v.state IN {states}")
        params: tuple = ()
        if name is not None:
            sql += " AND a.name = ?"
            params = (name,)
        return [self._decorate(r) for r in
                self._query(sql + " ORDER BY a.name COLLATE NOCASE, v.version", params)]

    def search(self, *, text: str | None = None, name: str | None = None,
               tags: Sequence[str] = (), after: str | None = None, before: str | None = None,
               min_splats: int | None = None, max_splats: int | None = None,
               min_bytes: int | None = None, max_bytes: int | None = None,
               all_versions: bool = False) -> list[dict[str, Any]]:
        """Published versions matching every given filter (newest per asset unless
        ``all_versions``). ``name`` is a glob (``Set_*``, ``[!A]*``); ``text`` looks in names,
        descriptions and tags; dates are ISO prefixes (``2026-05``), ``after`` inclusive and
        ``before`` exclusive."""
        where, params = ["v.state = 'published'"], []
        if text:
            where.append("(a.name LIKE ? OR v.description LIKE ? OR EXISTS (SELECT 1 FROM tags t "
                         "WHERE t.asset_id = a.id AND t.tag LIKE ?))")
            params += [f"%{text}%"] * 3
        for tag in tags:
            where.append("EXISTS (SELECT 1 FROM tags t WHERE t.asset_id = a.id AND t.tag = ?)")
            params.append(tag.lower())
        for column, op, value in (("v.published_at", ">=", after),
                                  ("v.published_at", "<", before),
                                  ("v.splats", ">=", min_splats), ("v.splats", "<=", max_splats),
                                  ("v.bytes", ">=", min_bytes), ("v.bytes", "<=", max_bytes)):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        sql = (f"SELECT {_VERSION_COLUMNS} FROM versions v JOIN assets a ON a.id = v.asset_id "
               f"WHERE {' AND '.join(where)} ORDER BY a.name COLLATE NOCASE, v.version")
        rows = [self._decorate(r) for r in self._query(sql, params)
                if name is None or fnmatch.fnmatchcase(r["name"], name)]
        if all_versions:
            return rows
        newest: dict[str, dict[str, Any]] = {}
        for row in rows:
            newest[row["name"]] = row
        return list(newest.values())

    def tags(self, name: str) -> list[str]:
        return [r["tag"] for r in self._query(
            "SELECT t.tag FROM tags t JOIN assets a ON a.id = t.asset_id WHERE a.name = ? "
            "ORDER BY t.tag", (name,))]

    def files(self, version_id: int) -> list[dict[str, Any]]:
        return self._query("SELECT path, role, bytes, sha256 FROM files WHERE version_id = ? "
                           "ORDER BY path", (version_id,))

    def asset_names(self) -> list[str]:
        return [r["name"] for r in self._query("SELECT name FROM assets ORDER BY name")]

    def _decorate(self, row: dict[str, Any]) -> dict[str, Any]:
        """A version row for callers, its values checked (the file may come from anyone)."""
        damaged = [key for key, kinds in _ROW_TYPES.items() if not isinstance(row[key], kinds)]
        try:
            row["extent"] = json.loads(row["extent"]) if row["extent"] else None
        except (ValueError, RecursionError):
            damaged.append("extent")
        if damaged:
            raise SetsplatError(f"the catalog holds a damaged version row ({', '.join(damaged)})",
                                "restore catalog.sqlite from a backup", self.path)
        for key in ("half", "unscaled", "purged"):
            row[key] = bool(row[key])
        row["ref"] = f"{row['name']}@{row['version']}"
        return row

    # ----- changing what is mutable: tags, deprecation, removal ----------------------
    def set_tags(self, name: str, add: Sequence[str], remove: Sequence[str]) -> list[str]:
        add, remove = [check_tag(t) for t in add], [check_tag(t) for t in remove]
        with self.write() as db:
            row = db.execute("SELECT id FROM assets WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise SetsplatError(f"no asset named {name!r} in the catalog",
                                    "see `setsplat assets list`", self.path)
            db.executemany("INSERT INTO tags VALUES (?, ?) ON CONFLICT DO NOTHING",
                           [(row[0], t) for t in add])
            db.executemany("DELETE FROM tags WHERE asset_id = ? AND tag = ?",
                           [(row[0], t) for t in remove])
        return self.tags(name)

    def deprecate(self, version_ids: Sequence[int], reason: str | None, undo: bool) -> None:
        with self.write() as db:
            db.executemany(
                "UPDATE versions SET deprecated_at = ?, deprecated_reason = ? WHERE id = ?",
                [(None, None, i) if undo else (now(), reason or "", i) for i in version_ids])

    def remove(self, version_id: int, purged: bool) -> None:
        with self.write() as db:
            db.execute("UPDATE versions SET state = 'removed', "
                       "removed_at = COALESCE(removed_at, ?), "
                       "purged = CASE WHEN ? = 1 THEN 1 ELSE purged END "
                       "WHERE id = ?", (now(), int(purged), version_id))


# SQLite's primary result codes that are not a damaged database.
_PERM, _READONLY, _IOERR, _FULL, _CANTOPEN = 3, 8, 10, 13, 14
_MESSAGES = {"readonly": _READONLY, "disk is full": _FULL, "disk i/o error": _IOERR,
             "unable to open": _CANTOPEN, "access permission denied": _PERM}


_TEXT, _NUMBER, _NONE = str, (int, float), type(None)
_ROW_TYPES = {"name": _TEXT, "id": int, "version": int, "state": _TEXT,
              "created_at": _TEXT, "published_at": (_TEXT, _NONE),
              "description": (_TEXT, _NONE), "splats": (int, _NONE),
              "preview_splats": (int, _NONE), "sh_degree": (int, _NONE),
              "bytes": (int, _NONE), "extent": (_TEXT, _NONE), "interface": (_TEXT, _NONE),
              "deprecated_at": (_TEXT, _NONE), "removed_at": (_TEXT, _NONE),
              "half": (_NUMBER, _NONE), "unscaled": (_NUMBER, _NONE), "purged": _NUMBER}


def _kind(exc: sqlite3.Error) -> int | None:
    """The primary result code of a SQLite error (from its text before Python 3.11)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF
    text = str(exc).lower()
    return next((kind for words, kind in _MESSAGES.items() if words in text), None)


def journal_mode(catalog: Path) -> str:
    """``wal`` on a local disk; ``delete`` (SQLite's rollback journal) where other
    machines may open the file too (NFS, SMB and the like, e.g. a studio's shared
    library): WAL's shared-memory index would let them corrupt it. ``$SETSPLAT_CATALOG_JOURNAL``
    overrides the check where the filesystem is misjudged."""
    forced = os.environ.get(JOURNAL_ENV, "").strip().lower()
    if forced:
        if forced not in ("wal", "delete"):
            raise SetsplatError(f"{JOURNAL_ENV}={forced!r} is not a journal mode",
                                "set it to wal or delete, or unset it")
        return forced
    return "delete" if on_network_filesystem(catalog.parent) else "wal"


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
