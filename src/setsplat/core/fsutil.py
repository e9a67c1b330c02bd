"""Files appear whole or not at all: write aside, then rename into place."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from setsplat.core.errors import SetsplatError, os_error


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def default_mode(folder: bool = False) -> int:
    """The permissions open()/mkdir() would give under the umask (mkstemp/mkdtemp give
    0600/0700, too private for a shared library)."""
    return (0o777 if folder else 0o666) & ~_UMASK


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, fsync: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes ``path`` only if the block finishes.

    The temporary file lives beside the target so the final ``os.replace`` is atomic.
    ``fsync`` also makes the bytes durable before the rename (the catalog wants that;
    a plain export does not pay for it).
    """
    path = Path(path)
    if path.is_dir():
        raise SetsplatError("is a folder, expected a file name to write", None, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.fchmod(fd, default_mode())  # mkstemp makes 0600; give what open() would
    except OSError as exc:
        raise os_error(exc, path, "creating the output") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:
            fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise os_error(exc, path, "writing") from exc
        raise


def replace_folder(staged: str | os.PathLike, out: str | os.PathLike) -> None:
    """Put the finished folder ``staged`` where ``out`` is (both in one parent folder):
    the old ``out`` moves aside first and goes only once the new one is in place."""
    import shutil

    staged, out = Path(staged), Path(out)
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(staged, out)
    shutil.rmtree(old, ignore_errors=True)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
