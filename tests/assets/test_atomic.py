"""Publishing under kill -9 and under concurrency: the catalog stays consistent."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from setsplat.assets import Library, PublishOptions, publish, verify
from setsplat.assets.catalog import Catalog
from setsplat.core.fsutil import sha256_file

pytest.importorskip("pxr")

# A publisher that imports everything, says "ready", waits for a line, then publishes:
# the parent times its kill from the moment publishing starts, not from interpreter start.
# Thumbnails are off: rendering is just one more file in the folder being built, and
# loading torch in every one of the ~30 processes would triple the test's time.
# the catalog's part of a publish is what these tests are about: no thumbnails, no mesh
QUICK = PublishOptions(name="Set_Office", thumbnails=False, mesh=None)

WORKER = """
import sys
from setsplat.assets import Library, PublishOptions, publish
from setsplat.core.progress import set_quiet
set_quiet(True)
print("ready", flush=True)
sys.stdin.readline()
options = PublishOptions(name=sys.argv[2], thumbnails=False)
record = publish(sys.argv[1], options, Library.resolve(sys.argv[3]))
print("published", record["version"], flush=True)
"""


def _start(source: Path, name: str, library: Library) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(source), name, str(library.root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready", process.stderr.read()
    return process


def _go(process: subprocess.Popen) -> None:
    process.stdin.write("go\n")
    process.stdin.flush()


def _assert_consistent(library: Library) -> list[int]:
    """Every listed version has all its files with matching hashes; nothing half-made
    is listed. Returns the published version numbers."""
    with Catalog(library.catalog_path) as catalog:
        assert catalog.integrity_problems() == []
        rows = catalog.versions()
        for row in rows:
            folder = library.version_dir(row["name"], row["version"])
            files = catalog.files(row["id"])
            assert len(files) == 5, row["ref"]
            for entry in files:
                assert sha256_file(folder / entry["path"]) == entry["sha256"], entry
            on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
            assert on_disk == {f["path"] for f in files}
        return [r["version"] for r in rows]


def test_kill_9_at_random_moments_leaves_a_consistent_catalog(library, small_ply):
    source = small_ply[0]
    publish(source, PublishOptions(name="Set_Office", thumbnails=False), library)
    process = _start(source, "Set_Office", library)
    started = time.perf_counter()
    _go(process)
    assert process.wait(60) == 0, process.stderr.read()
    duration = time.perf_counter() - started
    rng = random.Random(7)
    kills = 0
    for _ in range(12):
        process = _start(source, "Set_Office", library)
        _go(process)
        time.sleep(rng.uniform(0, duration * 1.1))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait(60)
        process.stdout.close()
        process.stderr.close()
        process.stdin.close()
        versions = _assert_consistent(library)
        assert versions == sorted(set(versions))
    assert kills >= 7  # most runs really died mid-publish
    report = verify(library)
    assert report["ok"], report["problems"]
    leftovers = [p.name for p in library.asset_dir("Set_Office").iterdir()
                 if not p.name.startswith("v")]
    assert leftovers == []
    with Catalog(library.catalog_path) as catalog:
        assert catalog.pending() == []
    # and the library still works
    record = publish(source, PublishOptions(name="Set_Office", thumbnails=False), library)
    assert record["version"] == max(_assert_consistent(library))


def test_two_publishers_at_once_both_land_with_distinct_versions(library, small_ply):
    source = small_ply[0]
    for name in ("Set_Office", "Set_Office"):  # twice the same asset, then two assets
        first, second = _start(source, name, library), _start(source, name, library)
        _go(first)
        _go(second)
        outputs = []
        for process in (first, second):
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            outputs.append(out.split()[-1])
        assert sorted(outputs) in (["1", "2"], ["3", "4"])
    versions = _assert_consistent(library)
    assert versions == [1, 2, 3, 4]


def test_crash_between_rename_and_commit_is_rolled_back(library, small_ply):
    """The narrowest window: the folder is in place but the catalog still says pending.
    A dead owner's lock is free, so the next publish removes the folder and reuses the
    number; the version was never listed."""
    from setsplat.assets.publish import lock_path, recover, try_lock

    publish(small_ply[0], QUICK, library)
    with Catalog(library.catalog_path) as catalog:
        def take_and_drop_lock(version: int) -> None:
            fd = try_lock(lock_path(library, "Set_Office", version))
            os.close(fd)  # the owner dies: its flock goes with it

        _, version = catalog.reserve("Set_Office", "elsewhere:1", take_and_drop_lock)
        folder = library.version_dir("Set_Office", version)
        folder.mkdir()
        (folder / "Set_Office.usda").write_text("#usda 1.0\n")
        assert [r["version"] for r in catalog.versions()] == [1]
        cleaned = recover(library, catalog, "Set_Office")
        assert any("v002" in line for line in cleaned) and not folder.exists()
        assert catalog.pending() == []
    assert publish(small_ply[0], QUICK, library)["version"] == 2


def test_a_live_publishers_reservation_is_left_alone(library, small_ply):
    from setsplat.assets.publish import lock_path, recover, try_lock

    publish(small_ply[0], QUICK, library)
    held = {}
    with Catalog(library.catalog_path) as catalog:
        _, version = catalog.reserve(
            "Set_Office", "here:1",
            lambda v: held.update(fd=try_lock(lock_path(library, "Set_Office", v))))
        tmp = library.asset_dir("Set_Office") / f".v{version:03d}.tmp-alive"
        tmp.mkdir()
        assert recover(library, catalog) == [] and tmp.exists()
        assert len(catalog.pending()) == 1
        # a concurrent publish takes the next number instead of waiting
        assert publish(small_ply[0], QUICK, library)["version"] == 3
        os.close(held["fd"])
        assert len(recover(library, catalog)) == 2 and not tmp.exists()
