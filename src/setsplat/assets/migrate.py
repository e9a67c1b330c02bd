"""``assets migrate --to URL``: a library's SQLite catalog copied into PostgreSQL.

The PostgreSQL catalog is made with the same migrations (the asset catalog's, and each
area's that the caller names, e.g. the shots'), then every row of every table is copied
with its id, in one transaction that also holds the SQLite catalog's write lock (no
publish can slip in between), and checked: the same rows, table by table. The files
stay where they are; afterwards the hosts name the catalog with ``--catalog`` or
``$SETSPLAT_CATALOG``. A failed copy leaves the PostgreSQL database as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from setsplat.core.errors import SetsplatError

from .catalog import Catalog
from .library import Library, check_catalog_url, redact
from .postgres import PostgresCatalog
from .publish import recover

_OWN = {"schema_version"}  # each catalog keeps its own (the same number, checked)


def migrate(library: Library, url: str,
            areas: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Copy ``library``'s SQLite catalog into the empty PostgreSQL catalog at ``url``;
    ``areas`` maps the areas that own tables in it (``shots``) to their migrations.
    Returns the rows copied per table."""
    check_catalog_url(url)
    Library(library.root).require()  # its own catalog.sqlite, whatever else it names
    areas = dict(areas or {})
    with Catalog(library.catalog_path) as source, \
            PostgresCatalog(url, create=True) as target:
        recover(library, source)  # what crashed publishes left is not worth copying
        for area, migrations in areas.items():
            source.migrate_area(area, migrations)
            target.migrate_area(area, migrations)
        with source.write(), target.write() as into:
            tables = _tables(source, target)
            _refuse_unless_empty(target, source)
            copied = {table: _copy(source, into, table) for table in tables}
            _restart_identities(into)
            _compare(source, target, tables)
    return {"library": str(library.root), "catalog": redact(url), "tables": copied,
            "checked": True}


def _tables(source: Catalog, target: Catalog) -> list[str]:
    """The tables to copy, parents before children (the order they were made in)."""
    wanted = [t for t in source.table_names() if t not in _OWN]
    missing = sorted(set(wanted) - set(target.table_names()))
    if missing:
        raise SetsplatError(f"the PostgreSQL catalog has no table {', '.join(missing)}",
                            "upgrade setsplat on this host: the library has tables it does "
                            "not know", target.path)
    if source.schema_version() != target.schema_version():
        raise SetsplatError("the two catalogs have different schema versions",
                            "open the library once with this setsplat, then migrate",
                            target.path)
    return wanted


def _refuse_unless_empty(target: Catalog, source: Catalog) -> None:
    if target.query("SELECT 1 FROM assets LIMIT 1"):
        raise SetsplatError("the PostgreSQL catalog already holds assets",
                            "migrate into an empty database", target.path)
    if source.pending():
        raise SetsplatError("a publish into this library is still running",
                            "wait for it to finish, then migrate", source.path)


def _copy(source: Catalog, into: Any, table: str) -> int:
    rows = source.query(f"SELECT * FROM {table}")
    if not rows:
        return 0
    columns = list(rows[0])
    if table == "catalog_info":  # the target made its own application and date rows
        into.execute("DELETE FROM catalog_info")
    into.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                     f"VALUES ({', '.join('?' * len(columns))})",
                     [[row[c] for c in columns] for row in rows])
    return len(rows)


def _restart_identities(into: Any) -> None:
    """Ids were copied as they were: the next new row must get a higher one."""
    tables = [row[0] for row in into.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND column_name = 'id' AND is_identity = 'YES'")]
    for table in tables:
        into.execute(f"SELECT setval(pg_get_serial_sequence(?, 'id'), "
                     f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)", (table,))


def _compare(source: Catalog, target: Catalog, tables: list[str]) -> None:
    """The same rows in both, table by table (order and column order aside)."""
    for table in tables:
        if _digest(source, table) != _digest(target, table):
            raise SetsplatError(f"the copy of table {table} differs from the original",
                                "nothing was kept; report this with both databases' versions",
                                target.path)


def _digest(catalog: Catalog, table: str) -> tuple[int, str]:
    rows = catalog.query(f"SELECT * FROM {table}")
    lines = sorted(json.dumps(row, sort_keys=True, default=str) for row in rows)
    return len(rows), hashlib.sha256("\n".join(lines).encode()).hexdigest()
