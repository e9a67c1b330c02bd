"""``assets verify``: every published file is there with its SHA-256, the USD composes
without errors in every variant, and splat counts agree with the catalog."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import sha256_file
from setsplat.core.io import usd

from . import usd_asset
from .catalog import Catalog
from .catalogs import open_catalog
from .library import Library, parse_ref, version_folder_name
from .publish import recover


def verify(library: Library | None = None, refs: list[str] | None = None) -> dict[str, Any]:
    """Check the given references (default: every published version); clean up what
    crashed publishes left. ``problems`` lists ``{"ref", "problem"}`` one per finding."""
    library = library or Library.resolve()
    library.require()
    problems: list[dict[str, str]] = []
    with open_catalog(library) as catalog:
        problems += [{"ref": "catalog", "problem": p} for p in catalog.integrity_problems()]
        cleaned = [] if catalog.readonly else recover(library, catalog)
        if refs:
            records = [catalog.resolve(parse_ref(r)) for r in refs]
        else:
            records = catalog.versions()
            problems += _orphans(library, catalog)
        for record in records:
            problems += [{"ref": record["ref"], "problem": p}
                         for p in check_version(library, catalog, record)]
    return {"library": os.fspath(library.root), "checked": [r["ref"] for r in records],
            "problems": problems, "cleaned": cleaned, "ok": not problems}


def check_version(library: Library, catalog: Catalog, record: dict[str, Any]) -> list[str]:
    folder = library.version_dir(record["name"], record["version"])
    if not folder.is_dir():
        return [f"its folder {folder} is missing"]
    problems = []
    listed = catalog.files(record["id"])
    for entry in listed:
        try:
            path = library.stored_path(record, entry["path"])
        except SetsplatError as exc:
            problems.append(exc.what)
            continue
        if not path.is_file():
            problems.append(f"missing {entry['role']} file {entry['path']}")
        elif path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['path']} changed after publishing (SHA-256 differs)")
    known = {entry["path"] for entry in listed}
    problems += [f"unexpected file {p}" for p in _files(folder) if p not in known]
    try:
        interface = library.stored_path(record, record["interface"])
    except SetsplatError as exc:
        return [*problems, exc.what]
    if interface.is_file():
        problems += _check_usd(interface, record)
    return problems


def _check_usd(interface: Path, record: dict[str, Any]) -> list[str]:
    from pxr import Tf

    from setsplat.core.errors import SetsplatError
    from setsplat.core.native import held_native_output

    problems = []
    expected = {"full": record["splats"], "preview": record["preview_splats"]}
    for (representation, lod), payload in usd_asset.PAYLOADS.items():
        with held_native_output(2):
            try:
                stage = usd_asset.open_asset(interface, representation, lod)
            except (Tf.ErrorException, SetsplatError) as exc:
                what = exc.what if isinstance(exc, SetsplatError) else str(exc).strip()
                problems.append(f"{representation}/{lod}: {what}")
                continue
            errors = [e.GetMessage() if hasattr(e, "GetMessage") else str(e)
                      for e in stage.GetCompositionErrors()]
        if errors:
            missing = not (interface.parent / payload).is_file()
            what = f"payload {payload} is missing" if missing else "; ".join(errors)[:300]
            problems.append(f"{representation}/{lod}: {what}")
            continue
        if representation == "splats":
            prim = usd_asset.splat_prim(stage)
            count = usd.count(prim) if prim else 0
            if count != expected[lod]:
                problems.append(f"{representation}/{lod}: {count} splats, the catalog says "
                                f"{expected[lod]}")
    return _unique(problems)


def _orphans(library: Library, catalog: Catalog) -> list[dict[str, str]]:
    """Version folders the catalog does not know (a half-finished publish is cleaned by
    ``recover``; these came from elsewhere, e.g. a catalog restored from an old backup)."""
    known = {(r["name"], version_folder_name(r["version"]))
             for r in catalog.versions(include_removed=True) if not r["purged"]}
    known |= {(r["name"], version_folder_name(r["version"])) for r in catalog.pending()}
    found = []
    if library.assets_dir.is_dir():
        for folder in sorted(library.assets_dir.glob("*/v[0-9]*")):
            if folder.is_dir() and (folder.parent.name, folder.name) not in known:
                found.append({"ref": f"{folder.parent.name}/{folder.name}",
                              "problem": f"folder {folder} is not in the catalog"})
    return found


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
