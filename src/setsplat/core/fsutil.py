"""Files appear whole or not at all: write aside, then rename into place."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
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


def staging_folder(out: str | os.PathLike, tag: str = "part") -> Path:
    """A fresh, empty folder beside ``out`` to build it in, with the permissions mkdir
    gives (not mkdtemp's 0700). Staging folders of ``out`` left by processes of this
    machine that no longer run (killed with -9, a power cut) are removed first, so an
    interrupted run leaves nothing the next one does not clean. The name carries the
    host and process: ``.NAME.TAG-HOST-PID-RANDOM``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_staging(out)
    prefix = f".{out.name}.{tag}-{_HOST}-{os.getpid()}-"
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
    os.chmod(folder, default_mode(folder=True))
    return folder


_HOST = socket.gethostname().replace("-", "_") or "host"


def sweep_staging(out: str | os.PathLike) -> list[Path]:
    """Remove staging folders of ``out`` whose process (on this host) is gone."""
    import shutil

    out, removed = Path(out), []
    pattern = re.compile(rf"\.{re.escape(out.name)}\.\w+-{re.escape(_HOST)}-(\d+)-\w+")
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or not a pid: leave it alone
    return True


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


def merge_folder(staged: str | os.PathLike, out: str | os.PathLike) -> None:
    """Move every file of the finished folder ``staged`` into ``out`` (same relative
    paths; files already there are replaced, others kept)."""
    staged, out = Path(staged), Path(out)
    out.mkdir(exist_ok=True)
    for item in sorted(staged.rglob("*")):
        if item.is_file():
            target = out / item.relative_to(staged)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item, target)


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


# Filesystems whose files other machines may open at the same time (Linux type names).
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs",
    "lustre", "gpfs", "beegfs", "ocfs2", "gfs2", "fuse.sshfs", "fuse.glusterfs",
    "fuse.ceph", "fuse.s3fs", "fuse.rclone", "fuse.gcsfuse", "fuse.juicefs",
})


def filesystem_type(path: str | os.PathLike, mountinfo: str | None = None) -> str | None:
    """The type of the filesystem that holds ``path`` (or would hold it: missing folders
    are looked up by their nearest existing parent), from Linux's mount table
    (``mountinfo`` is its text, read from /proc when not given); None elsewhere."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return None
    target = Path(os.path.realpath(path))
    found, depth = None, -1
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        point = Path(_unescape_mount(fields[4]))
        if len(point.parts) > depth and target.is_relative_to(point):
            found, depth = fields[fields.index("-", 6) + 1], len(point.parts)
    return found


def on_network_filesystem(path: str | os.PathLike) -> bool:
    if os.name == "nt":
        return str(os.path.realpath(path)).startswith("\\\\")  # a UNC path: \\server\share
    return filesystem_type(path) in NETWORK_FILESYSTEMS


def _unescape_mount(text: str) -> str:
    """Mount points in mountinfo write space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text
