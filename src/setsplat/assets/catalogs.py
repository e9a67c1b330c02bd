"""Opening a library's catalog, wherever it is kept: its own ``catalog.sqlite``, or the
PostgreSQL database its ``catalog_url`` names."""

from __future__ import annotations

from .catalog import Catalog
from .library import Library


def open_catalog(library: Library, *, create: bool = False) -> Catalog:
    """The library's catalog, open (made when ``create``; migrated to this setsplat's
    schema either way)."""
    if library.catalog_url is None:
        return Catalog(library.catalog_path, create=create)
    from .postgres import PostgresCatalog

    return PostgresCatalog(library.catalog_url, create=create)
