"""The SQLite catalog: schema and migrations, refusing foreign or corrupt files,
references, search, deprecation and removal."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from setsplat.assets import PublishOptions, parse_ref, publish
from setsplat.assets.catalog import JOURNAL_ENV, MIGRATIONS, SCHEMA_VERSION, Catalog
from setsplat.assets.library import Library, Ref, check_name
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import NETWORK_FILESYSTEMS, filesystem_type


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
        assert catalog.schema_version() == SCHEMA_VERSION == 4
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


# the catalog is what these publishes are for: no thumbnails, no proxy mesh
QUICK = {"thumbnails": False, "mesh": None}


def test_latest_deprecate_remove_and_search(library, small_ply):
    path = small_ply[0]
    for description in ("first", "second", "third"):
        publish(path, PublishOptions(name="Set_Office", description=description,
                                     tags=("office",), **QUICK), library)
    publish(path, PublishOptions(name="Stairwell_B", tags=("stairs", "concrete"), **QUICK),
            library)
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
    assert publish(path, PublishOptions(name="Set_Office", **QUICK), library)["version"] == 4
    with pytest.raises(SetsplatError, match="already exists"):
        publish(path, PublishOptions(name="set_office", **QUICK), library)


# ----------------------------------------------------------------------- network shares
MOUNTS = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:50 / /mnt/nas rw,relatime shared:20 - nfs4 filer:/export/assets rw,vers=4.2
41 40 8:17 / /mnt/nas/scratch rw,relatime - xfs /dev/sdb1 rw
42 22 0:51 / /mnt/show\\040share rw,relatime - cifs //filer/show rw
43 22 0:52 / /mnt/sshfs rw,nosuid shared:30 master:2 - fuse.sshfs me@host:/srv rw
"""


@pytest.mark.parametrize("path, kind", [
    ("/home/artist/library", "ext4"),
    ("/mnt/nas", "nfs4"),
    ("/mnt/nas/Sets/library/catalog.sqlite", "nfs4"),
    ("/mnt/nas/scratch/library", "xfs"),  # a local disk mounted inside the share
    ("/mnt/nasty", "ext4"),  # a name that merely starts like the share's
    ("/mnt/show share/library", "cifs"),
    ("/mnt/sshfs/x", "fuse.sshfs"),
])
def test_the_mount_table_names_each_paths_filesystem(path, kind):
    assert filesystem_type(path, MOUNTS) == kind
    assert (kind in NETWORK_FILESYSTEMS) == (kind not in ("ext4", "xfs"))


def test_the_real_mount_table_is_read(tmp_path):
    assert filesystem_type("/proc") == "proc"
    findmnt = shutil.which("findmnt")
    if findmnt:
        kind = subprocess.run([findmnt, "-n", "-o", "FSTYPE", "--target", str(tmp_path)],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert filesystem_type(tmp_path / "not yet" / "catalog.sqlite") == kind


def test_a_library_on_a_network_share_uses_the_rollback_journal(library, small_ply,
                                                                monkeypatch):
    """WAL's shared-memory index works only among processes of one machine; where other
    machines open the catalog too it must not be used. The mode follows the filesystem
    (forced here through the override: no share to mount) on every open."""
    monkeypatch.setenv(JOURNAL_ENV, "delete")
    publish(small_ply[0], PublishOptions(name="Set_Office"), library)
    publish(small_ply[0], PublishOptions(name="Set_Office"), library)
    with Catalog(library.catalog_path) as catalog:
        assert catalog.journal == "delete"
        assert [v["version"] for v in catalog.versions("Set_Office")] == [1, 2]
    assert not library.catalog_path.with_name("catalog.sqlite-wal").exists()
    monkeypatch.delenv(JOURNAL_ENV)  # the library moved to a local disk
    with Catalog(library.catalog_path) as catalog:
        assert catalog.journal == "wal"
    monkeypatch.setenv(JOURNAL_ENV, "delete")  # and back to the share
    with Catalog(library.catalog_path) as catalog:
        assert catalog.journal == "delete"
        assert catalog.resolve(Ref("Set_Office"))["version"] == 2


def test_the_journal_switch_does_not_wait_for_other_users(library, small_ply, monkeypatch):
    """Switching needs the file to itself; while someone else reads, an open leaves the
    mode as it is (a later open switches) instead of waiting for them."""
    publish(small_ply[0], PublishOptions(name="Set_Office"), library)
    reader = sqlite3.connect(library.catalog_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM versions").fetchone()
    monkeypatch.setenv(JOURNAL_ENV, "delete")
    with Catalog(library.catalog_path) as catalog:
        assert catalog.journal == "wal"
        assert catalog.resolve(Ref("Set_Office"))["version"] == 1
    reader.execute("COMMIT")
    reader.close()
    with Catalog(library.catalog_path) as catalog:
        assert catalog.journal == "delete"


def test_a_bad_journal_override_is_one_line(cli, library, small_ply, monkeypatch):
    monkeypatch.setenv(JOURNAL_ENV, "memory")
    result = cli("assets", "publish", small_ply[0], "--name", "Set_Office", "--no-mesh",
                 "--no-thumbnails", "--library", library.root)
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"error: {JOURNAL_ENV}='memory' is not a journal mode — set it to wal or delete, "
        "or unset it"]
    assert not library.catalog_path.exists()
