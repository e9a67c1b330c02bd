"""The SQLite catalog: schema and migrations, refusing foreign or corrupt files,
references, search, deprecation and removal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from setsplat.assets import PublishOptions, parse_ref, publish
from setsplat.assets.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog
from setsplat.assets.library import Library, Ref, check_name
from setsplat.core.errors import SetsplatError


def test_new_catalog_has_wal_foreign_keys_and_schema_version(tmp_path):
    with Catalog(tmp_path / "c.sqlite", create=True) as catalog:
        assert catalog.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert catalog.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert catalog.schema_version() == SCHEMA_VERSION
        with pytest.raises(sqlite3.IntegrityError):
            catalog.db.execute("INSERT INTO versions (asset_id, version, state, created_at) "
                               "VALUES (99, 1, 'published', 'now')")


def test_migrations_run_in_order_once(tmp_path):
    path = tmp_path / "c.sqlite"
    Catalog(path, create=True).close()
    extra = "ALTER TABLE assets ADD COLUMN owner TEXT NOT NULL DEFAULT ''"
    with Catalog(path, migrations=[*MIGRATIONS, extra]) as catalog:
        assert catalog.schema_version() == SCHEMA_VERSION + 1
        columns = [r[1] for r in catalog.db.execute("PRAGMA table_info(assets)")]
        assert "owner" in columns
    with Catalog(path, migrations=[*MIGRATIONS, extra]) as catalog:  # no second ALTER
        assert catalog.schema_version() == SCHEMA_VERSION + 1
    with pytest.raises(SetsplatError, match="newer than this setsplat"):
        Catalog(path)


def test_a_catalog_from_before_proxy_meshes_is_upgraded(tmp_path):
    path = tmp_path / "c.sqlite"
    with Catalog(path, create=True, migrations=MIGRATIONS[:2]) as old:
        old.reserve("Set", "host:1", lambda version: None)
    with Catalog(path) as catalog:
        assert catalog.schema_version() == SCHEMA_VERSION == 3
        row = catalog.db.execute("SELECT mesh, mesh_triangles FROM versions").fetchone()
        assert tuple(row) == (None, None)


def _sql(path: Path, *statements: str) -> Path:
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()
    return path


def test_foreign_and_corrupt_files_are_refused(tmp_path):
    foreign = _sql(tmp_path / "foreign.sqlite", "CREATE TABLE photos (id INTEGER)")
    with pytest.raises(SetsplatError, match="not a setsplat catalog"):
        Catalog(foreign)
    lookalike = _sql(tmp_path / "lookalike.sqlite",
                     "CREATE TABLE schema_version (version INTEGER)",
                     "INSERT INTO schema_version VALUES (7)")
    with pytest.raises(SetsplatError, match="not a setsplat catalog"):
        Catalog(lookalike)
    _sql(lookalike, "CREATE TABLE catalog_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
         "INSERT INTO catalog_info VALUES ('application', 'someone-else')",
         "UPDATE schema_version SET version = 1")
    with pytest.raises(SetsplatError, match="not a setsplat catalog"):
        Catalog(lookalike)
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 3000)
    with pytest.raises(SetsplatError, match="corrupt or not a SQLite database"):
        Catalog(corrupt)
    text = tmp_path / "text.sqlite"
    text.write_text("hello, I am a text file\n" * 100)
    with pytest.raises(SetsplatError, match="corrupt or not a SQLite database") as info:
        Catalog(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "x..y", "", "3D_set", "a b",
                                  "na\u00efve", "x" * 65, ".hidden", "C:\\x", "set-1"])
def test_bad_names_are_refused(name):
    with pytest.raises(SetsplatError, match="not allowed"):
        check_name(name)


def test_references():
    assert parse_ref("Set_Office@3") == Ref("Set_Office", 3)
    assert parse_ref("Set_Office@v003") == Ref("Set_Office", 3)
    assert parse_ref("Set_Office@latest") == parse_ref("Set_Office") == Ref("Set_Office")
    for bad in ("Set_Office@0", "Set_Office@x", "Set_Office@-1", "../x@1"):
        with pytest.raises(SetsplatError):
            parse_ref(bad)


def test_library_resolution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SETSPLAT_LIBRARY", raising=False)
    assert Library.resolve().root == tmp_path / "setsplat-library"
    monkeypatch.setenv("SETSPLAT_LIBRARY", str(tmp_path / "env"))
    assert Library.resolve().root == tmp_path / "env"
    assert Library.resolve(tmp_path / "flag").root == tmp_path / "flag"
    (tmp_path / "file").write_text("x")
    with pytest.raises(SetsplatError, match="is a file"):
        Library.resolve(tmp_path / "file")


def test_latest_deprecate_remove_and_search(library, small_ply):
    path = small_ply[0]
    for description in ("first", "second", "third"):
        publish(path, PublishOptions(name="Set_Office", description=description,
                                     tags=("office",)), library)
    publish(path, PublishOptions(name="Stairwell_B", tags=("stairs", "concrete")), library)
    with Catalog(library.catalog_path) as catalog:
        assert catalog.resolve(Ref("Set_Office"))["version"] == 3
        catalog.deprecate([catalog.resolve(Ref("Set_Office", 3))["id"]], "too dark", False)
        assert catalog.resolve(Ref("Set_Office"))["version"] == 2
        assert catalog.resolve(Ref("Set_Office", 3))["deprecated_reason"] == "too dark"
        catalog.remove(catalog.resolve(Ref("Set_Office", 2))["id"], purged=False)
        assert catalog.resolve(Ref("Set_Office"))["version"] == 1
        with pytest.raises(SetsplatError, match="was removed"):
            catalog.resolve(Ref("Set_Office", 2))
        with pytest.raises(SetsplatError, match="has no version 9"):
            catalog.resolve(Ref("Set_Office", 9))
        with pytest.raises(SetsplatError, match="no asset named 'Nope'"):
            catalog.resolve(Ref("Nope"))
        assert [r["ref"] for r in catalog.search(tags=["stairs"])] == ["Stairwell_B@1"]
        assert [r["ref"] for r in catalog.search(text="secon", all_versions=True)] == []
        assert [r["ref"] for r in catalog.search(text="third")] == ["Set_Office@3"]
        assert [r["ref"] for r in catalog.search(text="concrete")] == ["Stairwell_B@1"]
        assert [r["ref"] for r in catalog.search(name="Set_*", all_versions=True)] == [
            "Set_Office@1", "Set_Office@3"]
        assert catalog.search(after="2999") == [] and len(catalog.search(before="2999")) == 2
        size = catalog.resolve(Ref("Stairwell_B"))["bytes"]
        assert len(catalog.search(min_bytes=size - 9999, max_bytes=size + 9999)) == 2
        assert catalog.search(min_bytes=10 * size) == []
        assert catalog.search(min_splats=3001) == []
    # the number of a removed version is never handed out again
    assert publish(path, PublishOptions(name="Set_Office"), library)["version"] == 4
    with pytest.raises(SetsplatError, match="already exists"):
        publish(path, PublishOptions(name="set_office"), library)
