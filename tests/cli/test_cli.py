"""The CLI skeleton: global options, error lines and exit codes, `info`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import click
import numpy as np
import pytest

from setsplat import __version__
from setsplat.cli.main import cli as root
from setsplat.core.errors import SetsplatError
from setsplat.core.io import ply

HEAVY = ("torch", "pxr", "pycolmap", "open3d", "numba", "gsplat")


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from setsplat.cli.main import run\n"
        "try:\n    run(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(time.perf_counter() - t)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    wall = time.perf_counter() - start
    assert out[-1] == "", f"--help imported {out[-1]}"
    assert "Commands:" in "\n".join(out)
    # Not a timing assert on the work: a guard that --help never starts loading torch & co.
    assert wall < 5, wall


def test_version_and_groups(cli):
    result = cli("--version")
    assert result.code == 0 and __version__ in result.out
    result = cli("--help")
    for group in ("capture", "reconstruct", "assets", "export", "shots", "info"):
        assert group in result.out
    result = cli("capture", "--help")
    assert result.code == 0 and "QC report" in result.out


def test_usage_error_is_one_line(cli):
    result = cli("info", "--frobnicate")
    assert result.code == 2
    assert result.err == ("error: No such option '--frobnicate' — see 'setsplat info --help'\n")


def test_missing_file_is_one_line_exit_2(cli, tmp_path):
    result = cli("info", tmp_path / "nope.ply")
    assert result.code == 2
    missing = tmp_path / "nope.ply"
    assert result.err == f"error: {missing}: no such file or folder — check the path\n"


@pytest.fixture
def failing_commands():
    @click.command("explode")
    def explode():
        raise RuntimeError("kaboom\nsecond line")

    @click.command("refuse")
    def refuse():
        raise SetsplatError("the scene is upside down", "pass --flip", "x.ply")

    root.add_command(explode)
    root.add_command(refuse)
    yield
    root.commands.pop("explode")
    root.commands.pop("refuse")


def test_unexpected_errors_exit_1_with_a_hint(cli, failing_commands):
    result = cli("explode")
    assert result.code == 1
    assert result.err == ("error: unexpected RuntimeError: kaboom — re-run with --debug for the "
                          "traceback and report it\n")
    debug = cli("--debug", "explode")
    assert debug.code == 1
    assert "Traceback (most recent call last)" in debug.err
    assert debug.err.rstrip().endswith("error: unexpected RuntimeError: kaboom\nsecond line")


def test_user_errors_exit_2(cli, failing_commands):
    result = cli("refuse")
    assert result.code == 2
    assert result.err == "error: x.ply: the scene is upside down — pass --flip\n"
    assert "Traceback" in cli("--debug", "refuse").err


def test_info_reports_numbers(cli, tmp_path, scene_factory):
    scene = scene_factory(500, degree=2, spread=1.0)
    path = tmp_path / "scene.ply"
    ply.write(path, scene)
    result = cli("--json", "info", path)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["splats"] == 500 and data["sh_degree"] == 2
    assert data["frame"]["name"] == "rdf"
    assert data["bounds"]["min"] == pytest.approx(scene.means.min(0).tolist())
    assert data["opacity"]["median"] == pytest.approx(float(sorted(scene.opacities)[249:251][0]),
                                                      rel=1e-2)
    assert data["memory_bytes"] == 500 * (3 + 4 + 3 + 1 + 27) * 4
    human = cli("info", path)
    assert human.code == 0 and "500" in human.out and "SH degree" in human.out


@pytest.mark.parametrize("walls, expected", [
    (False, "up (guess) -y (confidence"),  # a floor slab: RDF's up is -y
    (True, "up (guess) no clear floor (best guess"),  # a room: its walls are as dense as its floor
])
def test_info_says_when_it_cannot_tell_up(cli, tmp_path, scene_factory, walls, expected):
    scene = scene_factory(4000, degree=0, seed=3)
    rng = np.random.default_rng(3)
    points = rng.uniform(-2, 2, (4000, 3))
    points[:1000, 1] = 2.0  # the floor (RDF: y points down)
    if walls:  # three walls, each as dense as the floor
        points[1000:2000, 0], points[2000:3000, 0], points[3000:, 2] = -2.0, 2.0, 2.0
    scene.means[:] = points
    path = tmp_path / "room.ply"
    ply.write(path, scene)
    result = cli("info", path)
    assert result.code == 0
    assert expected in " ".join(result.out.split())
    assert ("the frame says -y" in " ".join(result.out.split())) == walls


def test_info_on_a_peer_file(cli, tmp_path, scene_factory):
    from gsplat.exporter import export_splats

    t = scene_factory(64, degree=3).to_torch()
    path = tmp_path / "peer.ply"
    export_splats(t["means"], t["log_scales"], t["quats"], t["opacity_logits"], t["sh"][:, :1],
                  t["sh"][:, 1:], save_to=str(path))
    data = json.loads(cli("--json", "info", path).out)
    assert data["splats"] == 64 and data["sh_degree"] == 3
    assert data["frame"]["units"] == "unscaled"


def test_info_on_a_broken_file_is_one_line(cli, tmp_path, scene_factory):
    path = tmp_path / "cut.ply"
    ply.write(path, scene_factory(50))
    path.write_bytes(path.read_bytes()[:-100])
    result = cli("info", path)
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith(f"error: {path}: file is "
                                                                 "truncated")


def test_unknown_suffix(cli, tmp_path):
    path = tmp_path / "scene.xyz"
    path.write_text("1 2 3\n")
    result = cli("info", path)
    assert result.code == 2 and "unknown scene format '.xyz'" in result.err


def test_info_drop_invalid(cli, tmp_path, scene_factory):
    import numpy as np

    path = tmp_path / "nan.ply"
    ply.write(path, scene_factory(30))
    data = path.read_bytes()
    head, body = data.split(b"end_header\n")
    values = np.frombuffer(body, np.float32).copy()
    values[0] = np.nan
    path.write_bytes(head + b"end_header\n" + values.tobytes())
    refused = cli("info", path)
    assert refused.code == 2 and "1 splats have NaN or infinite means" in refused.err
    assert "--drop-invalid" in refused.err
    result = cli("--json", "info", "--drop-invalid", path)
    assert result.code == 0
    info = json.loads(result.out)
    assert info["splats"] == 29 and info["meta"]["dropped_invalid"] == 1


def test_json_failures_print_the_error_on_stdout(cli, tmp_path, failing_commands):
    missing = tmp_path / "missing.ply"
    result = cli("--json", "info", missing)
    assert result.code == 2
    assert result.err == f"error: {missing}: no such file or folder — check the path\n"
    assert json.loads(result.out) == {"error": {
        "file": str(missing), "what": "no such file or folder", "hint": "check the path",
        "exit_code": 2}}
    listed = cli("assets", "list", "--json", "--library", tmp_path / "nolib")
    assert listed.code == 2 and json.loads(listed.out)["error"]["file"] == str(tmp_path / "nolib")
    exploded = json.loads(cli("--json", "explode").out)["error"]
    assert exploded["exit_code"] == 1 and exploded["what"] == "unexpected RuntimeError: kaboom"
    usage = json.loads(cli("--json", "info").out)["error"]
    assert usage["exit_code"] == 2 and "Missing argument" in usage["what"]
    assert cli("info", missing).out == ""  # without --json, stdout stays empty
