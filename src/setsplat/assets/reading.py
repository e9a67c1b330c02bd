"""Reading the catalog back: resolve ``Name@3`` to its files, load its splats."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from setsplat.core.errors import SetsplatError
from setsplat.core.frames import Frame, convert_scene
from setsplat.core.io import usd
from setsplat.core.scene import GaussianScene

from . import usd_asset
from .catalogs import open_catalog
from .library import Library, parse_ref


def resolve(ref: str, library: Library | str | os.PathLike | None = None
            ) -> tuple[dict[str, Any], Path]:
    """The catalog record of a reference and the path of its interface layer."""
    if not isinstance(library, Library):
        library = Library.resolve(library)
    library.require()
    parsed = parse_ref(ref)
    with open_catalog(library) as catalog:
        record = catalog.resolve(parsed)
    return record, library.stored_path(record, record["interface"])


def load(ref: str, library: Library | str | os.PathLike | None = None, *, lod: str = "full",
         frame: Frame | str | None = None) -> GaussianScene:
    """The splats of ``Name@3`` / ``Name@latest`` as a GaussianScene.

    In the asset's Y-up metres unless ``frame`` asks for another (``"rdf"`` gives back a
    3DGS-PLY-oriented scene).
    """
    record, interface = resolve(ref, library)
    payload = interface.parent / usd_asset.PAYLOADS["splats", lod]
    if not payload.is_file():
        raise SetsplatError(f"{record['ref']} is missing its {lod} splat payload",
                            "run `setsplat assets verify`; restore the file from a backup",
                            payload)
    scene = usd.read(payload)
    return scene if frame is None else convert_scene(scene, frame)
