"""What C++ libraries print straight onto the process's file descriptors (USD's
composition warnings, PoissonRecon's diagnostics): held back, so that a command's
output stays ours: one line per problem, and JSON alone on stdout with ``--json``."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def held_native_output(*fds: int) -> Iterator[list[str]]:
    """Redirect ``fds`` (default: stdout and stderr) to a scratch file for the block;
    the lines written there are in the yielded list once the block ends."""
    fds = fds or (1, 2)
    sys.stdout.flush()
    sys.stderr.flush()
    lines: list[str] = []
    saved = [os.dup(fd) for fd in fds]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        for fd in fds:
            os.dup2(sink.fileno(), fd)
        try:
            yield lines
        finally:
            for fd, copy in zip(fds, saved):
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            lines += sink.read().decode(errors="replace").splitlines()
