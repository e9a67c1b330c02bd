"""The child-process runner: results, crashes, hangs and errors become one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from setsplat.core.errors import SetsplatError, StageFailed
from setsplat.reconstruct.isolate import run_isolated

HELPERS = "tests.reconstruct.helpers"


def test_result_and_events(tmp_path):
    events = []
    result = run_isolated(f"{HELPERS}:echo", {"value": 42}, log_path=tmp_path / "log",
                          timeout=60, on_event=events.append)
    assert result == {"got": 42}
    assert events == [{"stage": "echo", "label": "Echo", "total": 2},
                      {"stage": "echo", "done": 2}]


def test_abort_becomes_stage_failed(tmp_path):
    with pytest.raises(StageFailed) as err:
        run_isolated(f"{HELPERS}:abort_now", {}, log_path=tmp_path / "log", timeout=60)
    assert "doomed: pycolmap crashed (SIGABRT)" in err.value.line()
    assert str(tmp_path / "log") in err.value.line()
    assert err.value.exit_code == 1


def test_hang_becomes_timeout(tmp_path):
    with pytest.raises(StageFailed) as err:
        run_isolated(f"{HELPERS}:hang", {}, log_path=tmp_path / "log", timeout=1.5)
    assert "sleepy: no result after 1.5 s, stopped" in err.value.line()


def test_errors_keep_their_kind(tmp_path):
    with pytest.raises(SetsplatError) as err:
        run_isolated(f"{HELPERS}:refuse", {}, log_path=tmp_path / "log", timeout=60)
    assert not isinstance(err.value, StageFailed)
    assert err.value.line() == "some/file.png: this input is bad — fix it"
    with pytest.raises(StageFailed) as err:
        run_isolated(f"{HELPERS}:explode", {}, log_path=tmp_path / "log", timeout=60)
    assert err.value.line().startswith("boom: pycolmap failed: [scene.cc:12] Check failed")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)


def test_pycolmap_before_zlib_aborts_here():
    """The hazard that load_pycolmap guards against (pycolmap 4.2.1 on this machine):
    if this stops aborting, the guard may go."""
    done = _python("import pycolmap, zlib; zlib.compress(b'x' * 1000)")
    assert done.returncode == -6, done.stderr.decode()[-500:]


def test_zlib_survives_our_pycolmap(tmp_path):
    """A stage's child loads pycolmap our way, then writes PNGs (Pillow, OpenCV) and
    compresses: it must not abort."""
    code = f"""
import io, zlib
import numpy as np
from setsplat.reconstruct.colmap_stages import load_pycolmap
load_pycolmap()
from PIL import Image
Image.fromarray(np.zeros((8, 8), np.uint8)).save(io.BytesIO(), "PNG")
import cv2
assert cv2.imwrite({str(tmp_path / 'a.png')!r}, np.zeros((8, 8), np.uint8))
print(len(zlib.compress(b"x" * 1000)))
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert done.stdout.strip() == b"17"
