"""Where a library lives, what its names and references look like, and its folders.

A library is a folder: ``catalog.sqlite`` plus ``assets/<Name>/v<NNN>/``. It is found
from ``--library``, else ``$SETSPLAT_LIBRARY``, else ``./setsplat-library``. A library
that many hosts share keeps its catalog in PostgreSQL instead (``--catalog
postgresql://...``, else ``$SETSPLAT_CATALOG``) and its folder on storage they all see.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from setsplat.core.errors import SetsplatError
from setsplat.core.limits import inside

ENV_VAR = "SETSPLAT_LIBRARY"
CATALOG_ENV = "SETSPLAT_CATALOG"
CATALOG_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_FOLDER = "setsplat-library"
CATALOG_FILE = "catalog.sqlite"
ASSETS_FOLDER = "assets"

# A name is a folder, a file stem and a USD prim name at once: a USD identifier
# (letters, digits, underscores; not starting with a digit), short enough for any disk.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_NAME_HINT = ("use 1–64 letters, digits and underscores, starting with a letter "
              "(e.g. Set_Office)")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}")


def check_name(name: str) -> str:
    """``name`` if it is a valid asset name; a one-line error otherwise (no path escapes)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SetsplatError(f"asset name {name!r} is not allowed", _NAME_HINT)
    return name


def check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise SetsplatError(f"tag {tag!r} is not allowed",
                            "use letters, digits and _ . : + - (up to 64), e.g. stairwell")
    return tag.lower()


@dataclass(frozen=True)
class Ref:
    """``Name@3`` (a version), ``Name@latest`` or plain ``Name`` (version None: the latest)."""

    name: str
    version: int | None = None

    def __str__(self) -> str:
        return f"{self.name}@{'latest' if self.version is None else self.version}"


def parse_ref(text: str) -> Ref:
    name, at, version = text.partition("@")
    check_name(name)
    if not at or version.lower() == "latest":
        return Ref(name)
    digits = version[1:] if version[:1] in ("v", "V") else version
    if not digits.isdigit() or int(digits) < 1:
        raise SetsplatError(f"reference {text!r} has a bad version {version!r}",
                            "write Name@3, Name@v003 or Name@latest")
    return Ref(name, int(digits))


def version_folder_name(version: int) -> str:
    if type(version) is not int or version < 1:
        raise SetsplatError(f"the catalog holds a bad version number {version!r}",
                            "run `setsplat assets verify`; restore catalog.sqlite from a backup")
    return f"v{version:03d}"


def check_catalog_url(url: str) -> str:
    """``url`` if it names a PostgreSQL catalog; a one-line error otherwise."""
    if not url.startswith(CATALOG_SCHEMES):
        raise SetsplatError(f"catalog {redact(url)!r} is not a postgresql:// URL",
                            "give postgresql://USER@HOST:PORT/DATABASE, or leave --catalog "
                            "out for the library's own catalog.sqlite")
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


@dataclass(frozen=True)
class Library:
    root: Path
    catalog_url: str | None = None  # a PostgreSQL catalog; None: root/catalog.sqlite

    @classmethod
    def resolve(cls, explicit: str | os.PathLike | None = None,
                catalog: str | None = None) -> Library:
        """The library named by ``explicit``, ``$SETSPLAT_LIBRARY`` or the default folder,
        with the catalog ``catalog`` or ``$SETSPLAT_CATALOG`` names (else its own file)."""
        chosen = explicit or os.environ.get(ENV_VAR) or DEFAULT_FOLDER
        root = Path(chosen).expanduser().absolute()
        if root.exists() and not root.is_dir():
            raise SetsplatError("the library is a file, not a folder",
                                "give a folder with --library or SETSPLAT_LIBRARY", root)
        url = catalog or os.environ.get(CATALOG_ENV) or None
        return cls(root, check_catalog_url(url) if url else None)

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_FILE

    @property
    def assets_dir(self) -> Path:
        return self.root / ASSETS_FOLDER

    def asset_dir(self, name: str) -> Path:
        """``assets/<name>``; a symlink leading out of the library is refused (publish
        would write there, ``remove --purge`` delete there)."""
        folder = self.assets_dir / check_name(name)
        inside(self.root, folder, "asset folder", self.root)
        return folder

    def version_dir(self, name: str, version: int) -> Path:
        folder = self.asset_dir(name) / version_folder_name(version)
        inside(self.root, folder, "version folder", self.root)
        return folder

    def stored_path(self, record: dict, relative: str) -> Path:
        """A file of a version named by the catalog (which may come from anyone): it must
        stay inside that version's folder."""
        folder = self.version_dir(record["name"], record["version"])
        if not isinstance(relative, str):
            raise SetsplatError(f"the catalog holds a bad path {relative!r}",
                                "run `setsplat assets verify`", self.catalog_path)
        inside(folder, relative, "catalog path", self.catalog_path)
        return folder / relative

    def exists(self) -> bool:
        """Whether the catalog is there (a server's is asked when it is opened)."""
        return self.catalog_url is not None or self.catalog_path.is_file()

    def require(self) -> None:
        """Refuse to read a library that is not there (instead of making an empty one)."""
        if not self.exists():
            raise SetsplatError("no asset library here (no catalog.sqlite)",
                                f"publish an asset first, or point --library or {ENV_VAR} at "
                                "an existing library", self.root)
