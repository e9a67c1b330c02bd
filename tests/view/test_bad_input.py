"""`setsplat view` on bad input: a missing or corrupt scene, an unknown asset, a port in
use. Each is one line on stderr and exit code 2, and the process ends (no server is left
running: a viser thread still serving would keep it alive past the timeout)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from .scan import free_port

TIMEOUT_S = 120


def view(*args: str, port: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "setsplat.cli.main", "view", *args,
                           "--port", str(port or free_port())], capture_output=True,
                          text=True, timeout=TIMEOUT_S)


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert "viewer:" not in done.stdout


def test_missing_scene(tmp_path):
    one_line_error(view(str(tmp_path / "nothing.ply")), "no such file")


def test_corrupt_scene(tmp_path):
    broken = tmp_path / "broken.ply"
    broken.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1000\n"
                       b"property float x\nend_header\n" + b"\x00" * 10)
    one_line_error(view(str(broken)), str(broken))


def test_unknown_asset(tmp_path):
    from setsplat.assets.catalog import Catalog

    library = tmp_path / "library"
    library.mkdir()
    Catalog(library / "catalog.sqlite", create=True).close()
    one_line_error(view("Set_Nowhere@1", "--library", str(library)), "Set_Nowhere")


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_port_in_use(scene_factory, busy_port, tmp_path):
    from setsplat.core.io import write_scene

    write_scene(tmp_path / "scene.ply", scene_factory())
    one_line_error(view(str(tmp_path / "scene.ply"), port=busy_port), f"port {busy_port}",
                   "in use")
