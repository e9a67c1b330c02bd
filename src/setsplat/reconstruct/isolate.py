"""Run a pycolmap stage in a child process, so an abort or a hang is an ordinary error.

pycolmap 4.2 can take the whole process down (SIGABRT from a failed CHECK, a zlib clash,
a vocabulary download that fails) or run for very long. The child runs
``module:function(job, emit)``; ``emit`` sends JSON events (progress, the result)
through a pipe of its own, while pycolmap's own chatter goes to a log file. The parent
turns a crash, a non-zero exit, an error raised in the child or a timeout into a
``StageFailed``/``SetsplatError`` with one line that names the stage and the log.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from setsplat.core.errors import SetsplatError, StageFailed

Event = dict[str, Any]
_FD_ENV = "SETSPLAT_EVENT_FD"


def run_isolated(target: str, job: dict[str, Any], *, log_path: Path,
                 timeout: float | None = None,
                 on_event: Callable[[Event], None] | None = None) -> Any:
    """Run ``target`` ("package.module:function") in a child; return what it returned."""
    read_fd, write_fd = os.pipe()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, _FD_ENV: str(write_fd)}
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "setsplat.reconstruct.isolate", target],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env,
            pass_fds=(write_fd,), start_new_session=True)
    os.close(write_fd)
    try:
        assert child.stdin is not None
        child.stdin.write(json.dumps(job).encode())
        child.stdin.close()
        outcome, stage = _follow(child, read_fd, timeout, on_event)
        if not (outcome and outcome.get("timeout")):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=60)  # the pipe closed: the child is exiting
    finally:
        os.close(read_fd)
        _kill(child)
    return _conclude(child, outcome, stage, target, log_path, timeout)


def _follow(child: subprocess.Popen, read_fd: int, timeout: float | None,
            on_event: Callable[[Event], None] | None) -> tuple[Event | None, str]:
    """Read events until the pipe closes or time runs out; return (outcome, last stage)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    buffer, outcome, stage = b"", None, "starting"
    with selectors.DefaultSelector() as selector:
        selector.register(read_fd, selectors.EVENT_READ)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return {"timeout": True}, stage
            if not selector.select(left):
                continue
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                return outcome, stage
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                event = json.loads(line)
                if "result" in event or "error" in event:
                    outcome = event
                    continue
                stage = event.get("stage", stage)
                if on_event is not None:
                    on_event(event)


def _kill(child: subprocess.Popen) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _conclude(child: subprocess.Popen, outcome: Event | None, stage: str, target: str,
              log_path: Path, timeout: float | None) -> Any:
    see_log = f"see {log_path} for pycolmap's log"
    if outcome and outcome.get("timeout"):
        raise StageFailed(f"{stage}: no result after {timeout:g} s, stopped",
                          f"give it more time (--timeout) or fewer/smaller images; {see_log}")
    if outcome and "error" in outcome:
        err = outcome["error"]
        if err.get("crash"):
            raise StageFailed(f"{stage}: {err['what']}", see_log)
        cls = SetsplatError if err.get("exit_code") == 2 else StageFailed
        raise cls(err["what"], err.get("hint"), err.get("path"))
    if outcome and "result" in outcome and child.returncode == 0:
        return outcome["result"]
    code = child.returncode
    how = (f"crashed ({signal.Signals(-code).name})" if code < 0 else
           f"exited with code {code}")
    last = _last_log_line(log_path)
    raise StageFailed(f"{stage}: pycolmap {how}" + (f": {last}" if last else ""),
                      f"this is pycolmap failing on these images, not bad input; {see_log}")


def _last_log_line(log_path: Path) -> str:
    """The last line of the log that says something (glog's check failures, errors)."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()[-200:]
    except OSError:
        return ""
    for line in reversed(lines):
        text = line.strip()
        if "Check failed" in text or text.startswith(("E2", "F2")) or "rror" in text:
            return text[:200]
    return ""


# ----------------------------------------------------------------------------- child side
def _emit_to(fd: int) -> Callable[..., None]:
    stream = os.fdopen(fd, "w", buffering=1)

    def emit(**event: Any) -> None:
        stream.write(json.dumps(event, default=str) + "\n")
        stream.flush()

    return emit


def _child_main(target: str) -> None:
    emit = _emit_to(int(os.environ[_FD_ENV]))
    module_name, function_name = target.split(":")
    job = json.loads(sys.stdin.read())
    try:
        result = getattr(importlib.import_module(module_name), function_name)(job, emit)
    except SetsplatError as exc:
        emit(error={"what": exc.what, "hint": exc.hint, "path": exc.path,
                    "exit_code": exc.exit_code})
    except Exception as exc:  # pycolmap raises ValueError/RuntimeError for failed checks
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        emit(error={"what": f"pycolmap failed: {first}", "crash": True})
    else:
        emit(result=result)


if __name__ == "__main__":
    _child_main(sys.argv[1])
