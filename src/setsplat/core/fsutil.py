"""Files appear whole or not at all: write aside, then rename into place."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
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


# Folders built aside are named ``.<name>.<label>-<host>.<pid>-<random>`` beside their
# target, so that the next run on this host can tell a dead process's leftovers (its pid
# is gone) from a live one's, and never touches another host's on a shared disk.
_HOST = socket.gethostname()


def staging_folder(out: str | os.PathLike, label: str = "part") -> Path:
    """A fresh folder beside ``out`` with the permissions mkdir would give (mkdtemp's
    0700 would make a run's folders private on a shared disk)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.{label}-{_HOST}.{os.getpid()}-",
                                       dir=out.parent))
        os.chmod(folder, default_mode(folder=True))
    except OSError as exc:
        raise os_error(exc, out, "creating the output folder") from exc
    return folder


def remove_stale_staging(out: str | os.PathLike) -> list[Path]:
    """Remove what processes of this host that are gone (killed, crashed) left beside
    ``out``; returns the folders removed."""
    out = Path(out)
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.[a-z]+-{re.escape(_HOST)}\.(\d+)-")
    removed = []
    with contextlib.suppress(OSError):
        for entry in out.parent.iterdir():
            found = pattern.match(entry.name)
            if found and not _alive(int(found.group(1))):
                _remove(entry)
                removed.append(entry)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


@contextlib.contextmanager
def staged_folder(out: str | os.PathLike, *, merge: bool = False,
                  doing: str = "writing the output") -> Iterator[Path]:
    """Build a folder aside, then put it in place; all or nothing.

    Yields a fresh folder beside ``out``. When the block finishes it replaces ``out``
    whole, or with ``merge`` its files move into ``out`` one by one (files already there
    and not written now stay). When the block fails or is interrupted, the folder goes;
    leftovers of killed runs go at the next call. OS errors become one-line errors that
    name ``out`` and say what was being done.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SetsplatError("exists and is not a folder", "give the path of a folder", out)
    remove_stale_staging(out)
    folder = staging_folder(out)
    try:
        yield folder
        if merge:
            _merge_into(folder, out)
        else:
            replace_folder(folder, out)
    except OSError as exc:
        raise os_error(exc, out, doing) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, doing: str = "writing") -> Iterator[Path]:
    """A name beside ``path``, for writers that take a path rather than a file object
    (USD's ``Export``, OpenTimelineIO's adapters): what they write there, a file or a
    folder, replaces ``path`` when the block finishes, and goes when it fails. The name
    keeps ``path``'s suffix (writers choose their format by it) and its folder (relative
    references resolve the same)."""
    import secrets

    path = Path(path)
    remove_stale_staging(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, path, "creating the output folder") from exc
    aside = path.with_name(f".{path.name}.part-{_HOST}.{os.getpid()}-{secrets.token_hex(4)}"
                           f"{path.suffix}")
    try:
        yield aside
        replace_folder(aside, path)
    except OSError as exc:
        raise os_error(exc, path, doing) from exc
    finally:
        _remove(aside)


def _merge_into(folder: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for item in sorted(folder.rglob("*")):
        if item.is_file():
            target = out / item.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item, target)


def replace_folder(staged: str | os.PathLike, out: str | os.PathLike) -> None:
    """Put the finished folder (or file) ``staged`` where ``out`` is (both in one parent
    folder): an old folder ``out`` moves aside first and goes only once the new one is in
    place."""
    staged, out = Path(staged), Path(out)
    old = None
    if out.is_dir() or (out.exists() and staged.is_dir()):
        old = out.with_name(f".{out.name}.old-{_HOST}.{os.getpid()}-{staged.name[-8:]}")
        os.replace(out, old)
    os.replace(staged, out)  # a file replaces a file in one step
    if old is not None:
        _remove(old)


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
