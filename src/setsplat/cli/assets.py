"""setsplat assets: the versioned USD asset catalog."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from setsplat.cli.common import console, emit, library_options, mesh_options

if TYPE_CHECKING:
    from setsplat.mesh import MeshOptions

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "km": 1000.0, "in": 0.0254, "ft": 0.3048}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2})?)?)?)?)?")


@click.group()
def assets() -> None:
    """Publish scenes as versioned USD assets (splats, proxy mesh, preview LOD) in a
    library folder with a SQLite catalog; list, search, verify and load them.

    The library is --library, else $SETSPLAT_LIBRARY, else ./setsplat-library.
    References: Name@3, Name@v003, Name@latest (Name alone means latest)."""


def _catalog(library: Any) -> Any:
    from setsplat.assets.catalogs import open_catalog

    library.require()
    return open_catalog(library)


# ----------------------------------------------------------------------------- publish
@assets.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--name", "-n", required=True, help="Asset name, e.g. Set_Office.")
@click.option("--tags", "-t", multiple=True, help="Tags, comma-separated or repeated.")
@click.option("--description", "-d", default="", help="What this version is.")
@click.option("--half", is_flag=True, help="Store rotations, scales, opacities and SH as half "
              "floats (positions stay float32).")
@click.option("--units", type=click.Choice(sorted(UNITS)), default=None,
              help="For an unscaled scene: the length of one scene unit.")
@click.option("--scale", type=float, default=None,
              help="For an unscaled scene: metres per scene unit.")
@click.option("--no-thumbnails", is_flag=True, help="Skip rendering the three PNG views.")
@click.option("--preview-fraction", type=click.FloatRange(0, 1, min_open=True), default=0.1,
              show_default=True, help="Share of splats kept in the preview LOD.")
@mesh_options("Publish a placeholder box instead of the proxy mesh (faster).")
@library_options
def publish(source: Path, name: str, tags: tuple[str, ...], description: str, half: bool,
            units: str | None, scale: float | None, no_thumbnails: bool,
            preview_fraction: float, mesh: MeshOptions | None, library: Any) -> None:
    """Publish SOURCE (a scene file or a training output folder) as the next version of
    NAME: USD asset, preview LOD, proxy mesh (needs the mesh extra; else a placeholder
    box), thumbnails, provenance, SHA-256s."""
    from setsplat.assets import PublishOptions
    from setsplat.assets import publish as publish_scene
    from setsplat.assets.usd_asset import PreviewConfig
    from setsplat.core.errors import SetsplatError

    if units and scale is not None:
        raise SetsplatError("give --units or --scale, not both", "--units cm equals --scale 0.01")
    options = PublishOptions(
        name=name, tags=tuple(t.strip() for group in tags for t in group.split(",") if t.strip()),
        description=description, half=half,
        meters_per_unit=UNITS[units] if units else scale,
        preview=PreviewConfig(fraction=preview_fraction), thumbnails=not no_thumbnails,
        mesh=mesh)
    record = publish_scene(source, options, library)
    for warning in record["warnings"]:
        sys.stderr.write(f"warning: {record['ref']}: {warning}\n")
    record["path"] = str(library.version_dir(record["name"], record["version"])
                         / record["interface"])
    emit(record, lambda r: console().print(
        f"published [bold]{r['ref']}[/bold]: {r['splats']:,} splats, SH {r['sh_degree']}, "
        f"{_size(r['bytes'])}{' (half)' if r['half'] else ''}"
        f"{' — UNSCALED' if r['unscaled'] else ''}, {_mesh(r)}\n{r['path']}"))


# ----------------------------------------------------------------------------- reading
@assets.command(name="list")
@click.argument("name", required=False)
@click.option("--all-versions", "-a", is_flag=True, help="Every version, not the newest.")
@click.option("--removed", is_flag=True, help="Include removed versions.")
@library_options
def list_assets(name: str | None, all_versions: bool, removed: bool, library: Any) -> None:
    """Assets in the library (their newest version), or the versions of NAME."""
    from setsplat.assets.library import check_name

    with _catalog(library) as catalog:
        rows = catalog.versions(check_name(name) if name else None, include_removed=removed)
        if not (all_versions or name):
            newest: dict[str, Any] = {}
            for row in rows:
                newest[row["name"]] = row
            rows = list(newest.values())
        for row in rows:
            row["tags"] = catalog.tags(row["name"])
    emit(rows, _print_versions)


@assets.command()
@click.argument("ref")
@library_options
def show(ref: str, library: Any) -> None:
    """Everything about one version: record, files with SHA-256, tags, provenance."""
    import json

    from setsplat.assets.library import parse_ref

    with _catalog(library) as catalog:
        record = catalog.resolve(parse_ref(ref))
        record["tags"] = catalog.tags(record["name"])
        record["files"] = catalog.files(record["id"])
        record["versions"] = [r["version"] for r in catalog.versions(record["name"])]
    folder = library.version_dir(record["name"], record["version"])
    record["path"] = str(library.stored_path(record, record["interface"]))
    try:
        record["provenance"] = json.loads((folder / "provenance.json").read_text())
    except (OSError, ValueError):
        record["provenance"] = None
    emit(record, _print_show)


@assets.command()
@click.argument("text", required=False)
@click.option("--name", help="Name glob, e.g. 'Set_*'.")
@click.option("--tag", "tags", multiple=True, help="Has this tag (repeat for all of several).")
@click.option("--after", help="Published on or after this date (2026-05, 2026-05-01).")
@click.option("--before", help="Published before this date.")
@click.option("--min-splats", type=int)
@click.option("--max-splats", type=int)
@click.option("--min-size", help="At least this many bytes on disk (e.g. 100MB).")
@click.option("--max-size", help="At most this many bytes on disk (e.g. 2GB).")
@click.option("--all-versions", "-a", is_flag=True, help="Every matching version.")
@library_options
def search(text: str | None, name: str | None, tags: tuple[str, ...], after: str | None,
           before: str | None, min_splats: int | None, max_splats: int | None,
           min_size: str | None, max_size: str | None, all_versions: bool,
           library: Any) -> None:
    """Find versions by TEXT (name, description, tags), name glob, tag, date and size."""
    with _catalog(library) as catalog:
        rows = catalog.search(
            text=text, name=name, tags=tags, after=_date(after, "--after"),
            before=_date(before, "--before"), min_splats=min_splats, max_splats=max_splats,
            min_bytes=_bytes(min_size, "--min-size"), max_bytes=_bytes(max_size, "--max-size"),
            all_versions=all_versions)
        for row in rows:
            row["tags"] = catalog.tags(row["name"])
    emit(rows, _print_versions)


@assets.command()
@click.argument("ref")
@click.option("--payload", type=click.Choice(["interface", "full", "preview", "mesh"]),
              default="interface", show_default=True, help="Which file.")
@library_options
def path(ref: str, payload: str, library: Any) -> None:
    """The path of a version's USD asset (or one of its payloads), for a stage to use."""
    from setsplat.assets import resolve
    from setsplat.assets.usd_asset import PAYLOADS

    record, interface = resolve(ref, library)
    chosen = interface if payload == "interface" else interface.parent / PAYLOADS[
        ("mesh", "full") if payload == "mesh" else ("splats", payload)]
    emit({"ref": record["ref"], "path": str(chosen)}, lambda d: click.echo(d["path"]))


# ----------------------------------------------------------------------------- changing
@assets.command()
@click.argument("name")
@click.argument("tags", nargs=-1, required=True)
@click.option("--remove", "-r", is_flag=True, help="Remove these tags instead.")
@library_options
def tag(name: str, tags: tuple[str, ...], remove: bool, library: Any) -> None:
    """Add (or --remove) tags of asset NAME."""
    from setsplat.assets.library import check_name

    with _catalog(library) as catalog:
        current = catalog.set_tags(check_name(name), () if remove else tags,
                                   tags if remove else ())
    emit({"name": name, "tags": current},
         lambda d: click.echo(f"{d['name']}: {', '.join(d['tags']) or '(no tags)'}"))


@assets.command()
@click.argument("ref")
@click.option("--reason", default="", help="Why, for whoever finds it later.")
@click.option("--undo", is_flag=True, help="Make it current again.")
@library_options
def deprecate(ref: str, reason: str, undo: bool, library: Any) -> None:
    """Mark a version (Name@3) or every version of an asset (Name) deprecated: still
    loadable by number, skipped by @latest."""
    from setsplat.assets import deprecate as deprecate_versions

    refs = deprecate_versions(ref, library, reason=reason, undo=undo)
    emit({"deprecated": not undo, "refs": refs, "reason": reason},
         lambda d: click.echo(f"{'deprecated' if d['deprecated'] else 'current again'}: "
                              f"{', '.join(d['refs']) or '(none)'}"))


@assets.command()
@click.argument("ref")
@click.option("--purge", is_flag=True, help="Also delete its files (the number stays used).")
@library_options
def remove(ref: str, purge: bool, library: Any) -> None:
    """Remove one version (Name@3) from listings; its files stay unless --purge."""
    from setsplat.assets import remove as remove_version

    emit(remove_version(ref, library, purge=purge),
         lambda d: click.echo(f"removed {d['ref']}" + (" and deleted its files" if d["purged"]
                                                       else f"; files kept in {d['path']}")))


@assets.command()
@click.argument("refs", nargs=-1)
@library_options
def verify(refs: tuple[str, ...], library: Any) -> None:
    """Check hashes, USD composition and splat counts (all versions, or REFS); clean up
    what interrupted publishes left. Exits 1 when something is wrong."""
    from setsplat.assets import verify as verify_library

    report = verify_library(library, list(refs) or None)
    emit(report, _print_verify)
    if not report["ok"]:
        raise click.exceptions.Exit(1)


@assets.command()
@click.option("--to", "url", required=True, metavar="URL",
              help="An empty PostgreSQL database: postgresql://USER@HOST:PORT/DB.")
@library_options
def migrate(url: str, library: Any) -> None:
    """Copy the library's catalog.sqlite into PostgreSQL (same schema, every row, checked),
    for a library that many hosts share. Then give --catalog URL or SETSPLAT_CATALOG on
    every host; the files stay in the library folder."""
    from setsplat.assets.migrate import migrate as migrate_catalog
    from setsplat.shots.store import MIGRATIONS as SHOTS_MIGRATIONS

    report = migrate_catalog(library, url, {"shots": SHOTS_MIGRATIONS})
    emit(report, lambda r: click.echo(
        f"copied {sum(r['tables'].values())} rows in {len(r['tables'])} tables into "
        f"{r['catalog']}; checked: the same rows in both"))


# ----------------------------------------------------------------------------- helpers
def _bytes(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not a size (e.g. 500MB, 2GB)",
                                 param_hint=option)
    power = "kmgt".find(match.group(2).lower()) + 1 if match.group(2) else 0
    return int(float(match.group(1)) * 1000**power)


def _date(text: str | None, option: str) -> str | None:
    if text is not None and not _DATE.fullmatch(text):
        raise click.BadParameter(f"{text!r} is not a date (e.g. 2026-05 or 2026-05-01)",
                                 param_hint=option)
    return text


def _size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _mesh(row: dict[str, Any]) -> str:
    if row["mesh"] == "proxy":
        return f"proxy mesh {row['mesh_triangles']:,} triangles"
    return "placeholder box (no proxy mesh)"


def _flags(row: dict[str, Any]) -> str:
    flags = []
    if row.get("state") == "removed":
        flags.append("removed" + (", purged" if row.get("purged") else ""))
    if row.get("deprecated_at"):
        flags.append("deprecated")
    if row.get("unscaled"):
        flags.append("unscaled")
    if row.get("half"):
        flags.append("half")
    return ", ".join(flags)


def _print_versions(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        click.echo("no assets match")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("asset", "splats", "SH", "size", "published", "tags", "notes"):
        table.add_column(column, justify="right" if column in ("splats", "size") else "left")
    for row in rows:
        table.add_row(row["ref"], f"{row['splats']:,}", str(row["sh_degree"]), _size(row["bytes"]),
                      (row["published_at"] or "")[:16].replace("T", " "),
                      ", ".join(row.get("tags", [])), _flags(row))
    console().print(table)


def _print_show(record: dict[str, Any]) -> None:
    lines = [
        f"[bold]{record['ref']}[/bold]  (versions: {', '.join(map(str, record['versions']))})",
        f"path        {record['path']}",
        f"published   {record['published_at']}",
        f"splats      {record['splats']:,} (preview {record['preview_splats']:,}), "
        f"SH degree {record['sh_degree']}, {_size(record['bytes'])}",
        f"mesh        {_mesh(record)}",
        f"tags        {', '.join(record['tags']) or '-'}",
        f"description {record['description'] or '-'}",
        f"source      {record['source']}  sha256 {record['source_sha256'][:16]}…",
    ]
    if _flags(record):
        lines.append(f"notes       {_flags(record)}"
                     + (f" ({record['deprecated_reason']})" if record["deprecated_reason"] else ""))
    lines.append("files")
    lines += [f"  {f['path']:<28} {_size(f['bytes']):>9}  {f['sha256'][:16]}…"
              for f in record["files"]]
    console().print("\n".join(lines))


def _print_verify(report: dict[str, Any]) -> None:
    for line in report["cleaned"]:
        click.echo(f"cleaned: {line}")
    for problem in report["problems"]:
        click.echo(f"PROBLEM {problem['ref']}: {problem['problem']}")
    verdict = "ok" if report["ok"] else f"{len(report['problems'])} problem(s)"
    click.echo(f"checked {len(report['checked'])} version(s): {verdict}")
