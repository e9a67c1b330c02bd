"""The catalog in PostgreSQL, for a library that many hosts share.

The same catalog as the SQLite one (``Catalog``): the same migrations, the same SQL
and the same publish protocol; what differs is the connection and a few words of SQL,
translated here as each statement is run:

- placeholders ``?`` become psycopg's ``%s``;
- in table definitions ``INTEGER PRIMARY KEY`` becomes an identity column,
  ``INTEGER`` ``BIGINT`` (SQLite's integers are 64-bit), ``REAL`` ``DOUBLE PRECISION``
  and ``TEXT ... COLLATE NOCASE`` ``CITEXT`` (names that ignore case);
- ``COLLATE NOCASE`` elsewhere goes (CITEXT columns compare without case already) and
  ``LIKE`` becomes ``ILIKE`` (SQLite's LIKE ignores case).

Writers are serialised as in SQLite: every write transaction first takes one
transaction-scoped advisory lock, so a version number is reserved by one host at a
time and two publishers can never both see the same highest version.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from setsplat.core.errors import SetsplatError

from .catalog import BUSY_TIMEOUT_S, MIGRATIONS, Catalog
from .library import redact

WRITE_LOCK = 0x5E75_9A7  # the advisory lock every catalog write holds (any 64-bit key)
CONNECT_TIMEOUT_S = 10
_HINT = "check --catalog or SETSPLAT_CATALOG, and that the PostgreSQL server runs there"


class PostgresCatalog(Catalog):
    """A catalog in the PostgreSQL database ``url`` (``postgresql://USER@HOST/DB``)."""

    def __init__(self, url: str, *, create: bool = False,
                 migrations: Sequence[str] = MIGRATIONS) -> None:
        self.url = url
        self.path = redact(url)  # what messages name
        self._migrations = list(migrations)
        self.readonly = False
        psycopg = _import_psycopg()
        try:
            self.server = psycopg.connect(url, autocommit=True, row_factory=_rows,
                                          connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise SetsplatError(f"cannot reach the catalog ({_first_line(exc)})", _HINT,
                                self.path) from None
        try:
            with self._guard():
                self.server.execute(f"SET lock_timeout = '{int(BUSY_TIMEOUT_S)}s'")
                self.db = _Translating(self.server)
                if self._stored_version() is None:
                    if not create:
                        raise SetsplatError("no catalog in this database",
                                            "publish an asset first, or copy a library's "
                                            "catalog here with `setsplat assets migrate`",
                                            self.path)
                    with self.write() as db:
                        db.execute("CREATE EXTENSION IF NOT EXISTS citext")
                self._check_and_migrate()
        except BaseException:
            self.server.close()
            raise

    def close(self) -> None:
        self.server.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn PostgreSQL failures into one-line errors that say what to do."""
        import psycopg

        try:
            yield
        except psycopg.errors.LockNotAvailable:
            raise SetsplatError(f"the catalog stayed locked for {BUSY_TIMEOUT_S:.0f} s",
                                "another process holds it; try again", self.path) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise SetsplatError(f"the catalog cannot be written here ({_first_line(exc)})",
                                "ask for write access to the database", self.path) from None
        except psycopg.OperationalError as exc:
            raise SetsplatError(f"lost the catalog's server ({_first_line(exc)})", _HINT,
                                self.path) from None
        except psycopg.DatabaseError as exc:
            raise SetsplatError(f"the catalog cannot be used ({_first_line(exc)})",
                                "restore the database from a backup, or point --catalog "
                                "at another one", self.path) from None

    @contextlib.contextmanager
    def write(self) -> Iterator[Any]:
        """One write transaction, holding the catalog's write lock from its start."""
        with self._guard(), self.server.transaction():
            self.server.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield self.db

    def table_names(self) -> list[str]:
        return [row[0] for row in self.db.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.oid")]

    def _set_journal(self, wait: bool) -> None:
        """The server keeps its own log; there is no journal to choose."""

    @property
    def journal(self) -> str:
        return "server"

    def integrity_problems(self) -> list[str]:
        """None to look for: the server checks every constraint and foreign key as it
        writes, and keeps its files itself."""
        return []


class _Translating:
    """A psycopg connection that takes the catalog's SQL as written for SQLite."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.server.execute(translate(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        cursor = self.server.cursor()
        cursor.executemany(translate(sql), [tuple(row) for row in rows])
        return cursor


_DEFINITION = re.compile(r"^\s*(CREATE|ALTER)\s+TABLE\b", re.IGNORECASE)
_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bTEXT\b([^,\n]*?)\s+COLLATE NOCASE\b"), r"CITEXT\1"),
)


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """A statement of the catalog's (SQLite's) SQL in PostgreSQL's words."""
    if _DEFINITION.match(sql):
        for pattern, replacement in _TYPES:
            sql = pattern.sub(replacement, sql)
    sql = re.sub(r"\s+COLLATE NOCASE\b", "", sql)
    sql = re.sub(r"\bLIKE\b", "ILIKE", sql)
    return sql.replace("%", "%%").replace("?", "%s")


class _Row(tuple):
    """A row that answers by position and by column name, like ``sqlite3.Row``."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def _rows(cursor: Any) -> Any:
    """psycopg's row factory: rows as ``_Row``."""
    names = tuple(column.name for column in cursor.description or ())

    def make(values: Sequence[Any]) -> _Row:
        row = _Row(values)
        row.names = names
        return row

    return make


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise SetsplatError("a PostgreSQL catalog needs psycopg",
                            "pip install 'setsplat[farm]'") from None
    return psycopg
