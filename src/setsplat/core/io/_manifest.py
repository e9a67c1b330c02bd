"""What a splat format has no field for — metric scale and how the scene was put upright —
read back from the ``manifest.json`` an export writes beside its files.

SPZ, .splat and SOG store positions in a fixed frame but say nothing of units, so a
file read on its own is marked ``unscaled``. An export's manifest records, for the whole
export, ``unscaled`` and ``upright`` and the SHA-256 of every file it wrote. We take
those facts only when the manifest lists the exact bytes being read: a renamed file
still matches, an edited or re-encoded one (or another export's manifest) never does, so
the facts are never pinned on the wrong scene. We chose the manifest over a vendor
extension record inside the SPZ because that leaves the file's bytes exactly what every
reader expects: Niantic's loader warns that "loaded data may be incorrect" on any
extension it does not know (and on every extension when built without extension
support), and Unity's SPZ importer reads only the plain version 2 layout. A file that
travels without its manifest falls back to ``unscaled``, which is what every export then
says (the safe side).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setsplat.core.scene import GaussianScene

MANIFEST = "manifest.json"
_MAX_MANIFEST_BYTES = 1 << 20


def _manifest_record(folder: Path) -> dict | None:
    path = folder / MANIFEST
    try:
        if path.stat().st_size > _MAX_MANIFEST_BYTES:
            return None
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def add_export_facts(scene: GaussianScene, path: str | os.PathLike, data: bytes) -> None:
    """Set ``unscaled`` and ``upright`` in the meta of ``scene`` (just decoded from
    ``data``, the bytes of ``path``) from the manifest beside ``path``, when that manifest
    lists these bytes."""
    record = _manifest_record(Path(path).parent)
    sums = record.get("sha256") if record else None
    if not isinstance(sums, dict) or not isinstance(record.get("unscaled"), bool):
        return
    if hashlib.sha256(data).hexdigest() not in sums.values():
        return
    scene.meta["unscaled"] = record["unscaled"]
    if isinstance(record.get("upright"), str):
        scene.meta["upright"] = record["upright"]
