"""What a user sees when something goes wrong.

Every error we raise on purpose is a ``SetsplatError``: one line that names the file,
says what is wrong and what to do about it. The CLI prints it as
``error: <file>: <what> — <what to do>`` and exits with ``exit_code`` (2 for bad
input, 1 for a stage that failed on good input).
"""

from __future__ import annotations

import errno
import os


class SetsplatError(Exception):
    """Bad input: something the user can fix."""

    exit_code = 2

    def __init__(self, what: str, hint: str | None = None, path: str | os.PathLike | None = None):
        self.what = what
        self.hint = hint
        self.path = None if path is None else os.fspath(path)
        super().__init__(self.line())

    def line(self) -> str:
        """The message on one line: control characters (a newline or a terminal escape
        in a name read from a file) are shown escaped, never acted on."""
        text = f"{self.path}: {self.what}" if self.path else self.what
        text = f"{text} — {self.hint}" if self.hint else text
        return text.translate(_ESCAPED)


_ESCAPED = {code: f"\\x{code:02x}" for code in [*range(32), 127]}


class StageFailed(SetsplatError):
    """Good input, but a stage could not produce its result (SfM found no model, ...)."""

    exit_code = 1


_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def os_error(exc: OSError, path: str | os.PathLike, doing: str) -> SetsplatError:
    """Turn an OSError into a one-line error that says what to do."""
    if exc.errno == errno.ENOENT:
        return SetsplatError("no such file or folder", "check the path", path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return SetsplatError(f"permission denied while {doing}", "check its permissions", path)
    if exc.errno == errno.EISDIR:
        return SetsplatError("is a folder, expected a file", "give the path of a file", path)
    if exc.errno in _NO_ROOM:
        return SetsplatError(
            f"no room left while {doing} ({exc.strerror})",
            "free some disk space or write somewhere else; nothing was left half-written",
            path,
        )
    return SetsplatError(f"{exc.strerror or exc} while {doing}", None, path)
