"""A library may come from anyone and sit anywhere: paths in its catalog stay inside
it, symlinked asset folders are refused, a read-only library can still be read, and a
full disk is not reported as a corrupt catalog."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from setsplat.assets import Library
from setsplat.assets.catalog import Catalog
from setsplat.core.errors import SetsplatError
from tests.conftest import read_only

pytest.importorskip("pxr")


@pytest.fixture
def published(cli, tmp_path, small_ply):
    """A library with Set_Office@1, in a folder any user may read."""
    root = Path(tempfile.mkdtemp(prefix="setsplat-lib-"))
    os.chmod(root, 0o755)
    library = root / "lib"
    assert cli("-q", "assets", "publish", small_ply[0], "--name", "Set_Office", "--no-mesh",
               "--no-thumbnails", "--library", library).code == 0
    yield library
    shutil.rmtree(root, ignore_errors=True)


def _sql(library: Path, statement: str) -> None:
    with sqlite3.connect(library / "catalog.sqlite") as db:
        db.execute(statement)


def test_catalog_paths_outside_the_library_are_refused(cli, published, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    _sql(published, f"UPDATE versions SET interface = '../../../../{secret}'")
    result = cli("assets", "path", "Set_Office@1", "--library", published)
    assert result.code == 2 and "catalog path" in result.err and "points outside" in result.err
    assert str(secret) not in result.out

    _sql(published, "UPDATE versions SET interface = 'Set_Office.usda'")
    _sql(published, f"UPDATE files SET path = '{secret}' WHERE path = 'Set_Office.usda'")
    report = json.loads(cli("assets", "verify", "--json", "--library", published).out)
    assert not report["ok"]
    assert any("points outside" in p["problem"] for p in report["problems"]), report


def test_a_symlinked_asset_folder_is_refused(cli, published, tmp_path, small_ply):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(published / "assets" / "Set_Office", elsewhere)
    (published / "assets" / "Set_Office").symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.rglob("*"))
    result = cli("assets", "remove", "Set_Office@1", "--purge", "--library", published)
    assert result.code == 2 and "asset folder" in result.err and "points outside" in result.err
    result = cli("assets", "publish", small_ply[0], "--name", "Set_Office", "--no-mesh",
                 "--no-thumbnails", "--library", published)
    assert result.code == 2 and "points outside" in result.err
    assert sorted(p.name for p in elsewhere.rglob("*")) == before


def test_a_read_only_library_is_readable(cli, published):
    with read_only(published):
        _reads_but_never_writes(cli, published)


def _reads_but_never_writes(cli, read_only):
    for args in (("assets", "list"), ("assets", "show", "Set_Office@1"),
                 ("assets", "path", "Set_Office@1"), ("assets", "search", "Set"),
                 ("assets", "verify")):
        result = cli(*args, "--library", read_only)
        assert result.code == 0, (args, result.err)
        assert "Set_Office" in result.out or "ok" in result.out.lower(), result.out
    result = cli("assets", "tag", "Set_Office", "stairwell", "--library", read_only)
    assert result.code == 2
    assert "ask for write access" in result.err and "backup" not in result.err


def test_a_full_disk_is_not_a_corrupt_catalog(published):
    with Catalog(Library.resolve(published).catalog_path) as catalog:
        pages = catalog.db.execute("PRAGMA page_count").fetchone()[0]
        catalog.db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(SetsplatError) as caught:
            catalog.set_tags("Set_Office", [f"tag{i}" for i in range(2000)], [])
    assert "no room left" in caught.value.what and "unharmed" in caught.value.hint
    assert "backup" not in caught.value.line()
