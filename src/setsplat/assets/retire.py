"""Retiring versions: deprecate (still loadable by number, skipped by ``@latest``) and
remove (gone from listings; with ``purge`` its files too). Version numbers are never
reused, so a removed ``Set@2`` stays ``Set@2`` in every shot and log that names it."""

from __future__ import annotations

import shutil
from typing import Any

from setsplat.core.errors import SetsplatError, StageFailed

from .catalogs import open_catalog
from .library import Library, parse_ref


def deprecate(ref: str, library: Library, *, reason: str = "", undo: bool = False
              ) -> list[str]:
    """Deprecate one version (``Name@3``) or every version of an asset (``Name``), or
    make them current again with ``undo``; returns the references touched."""
    parsed = parse_ref(ref)
    library.require()
    with open_catalog(library) as catalog:
        targets = [catalog.resolve(parsed)] if "@" in ref else catalog.versions(parsed.name)
        if not targets:
            raise SetsplatError(f"no published version of {parsed.name!r}",
                                "see `setsplat assets list`")
        catalog.deprecate([t["id"] for t in targets], reason, undo)
    return [t["ref"] for t in targets]


def remove(ref: str, library: Library, *, purge: bool = False) -> dict[str, Any]:
    """Remove one version from listings; with ``purge`` delete its files too.

    The catalog says a version is purged only once its folder is gone: a purge that
    cannot delete (permissions, a busy share) leaves the version removed but not purged,
    and says so, so that running it again finishes the job.
    """
    parsed = parse_ref(ref)
    if parsed.version is None:
        raise SetsplatError(f"remove needs a version number, not {ref!r}",
                            f"e.g. `setsplat assets remove {parsed.name}@3`")
    library.require()
    with open_catalog(library) as catalog:
        record = catalog.resolve(parsed, removed_too=purge)
        catalog.remove(record["id"], purged=False)
        folder = library.version_dir(record["name"], record["version"])
        if purge:
            try:
                shutil.rmtree(folder)
            except FileNotFoundError:
                pass  # already gone: purged all the same
            except OSError as exc:
                raise StageFailed(
                    f"{record['ref']} is removed from listings, but its files could not be "
                    f"deleted ({exc.strerror or exc})",
                    "fix the folder's permissions and run the purge again", folder) from None
            catalog.remove(record["id"], purged=True)
    return {"ref": record["ref"], "purged": purge, "path": str(folder)}
