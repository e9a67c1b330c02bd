"""Writing an export: every file goes into a staging folder beside ``--out`` and moves
into place only when the whole export succeeded, with a ``manifest.json`` (files,
SHA-256, frame, units, transform) and, for packages, a README.txt for the artist."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.errors import SetsplatError
from setsplat.core.frames import Frame
from setsplat.core.fsutil import sha256_file, staged_folder
from setsplat.core.jsonio import write_json
from setsplat.core.scene import GaussianScene

UNSCALED_NOTE = ("WARNING: this scene is UNSCALED. Its units come from structure-from-motion "
                 "and are arbitrary, not metres: sizes and distances in the engine will be "
                 "wrong until you scale it (re-run reconstruct with markers or a known "
                 "distance, or scale the actor by hand).")


@dataclass
class Export:
    """What an export wrote, for the manifest, the CLI's report and tests."""

    target: str
    out: Path
    files: list[str] = field(default_factory=list)
    splats: int = 0
    frame: str = ""
    units: str = ""
    unscaled: bool = False
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "out": str(self.out), "files": self.files,
                "splats": self.splats, "frame": self.frame, "units": self.units,
                "unscaled": self.unscaled, "notes": self.notes, **self.details}


@contextlib.contextmanager
def staging(out: Path, options: Any = None) -> Iterator[Path]:
    """A fresh folder beside ``out``; on success its files replace those in ``out`` —
    never an input of the export (``options.inputs``), and, unless ``options.force``,
    only files an earlier export wrote there and nobody changed since."""
    with staged_folder(out, merge=True, doing="writing the export") as stage:
        yield stage
        check_overwrites(stage, Path(out), getattr(options, "inputs", ()),
                         getattr(options, "force", False))


def check_overwrites(stage: Path, out: Path, inputs: Sequence[Path], force: bool) -> None:
    """Refuse to let a file in ``stage`` replace an input, or a file in ``out`` that no
    export of ours wrote (its ``manifest.json`` lists each file with its SHA-256)."""
    sources = [Path(os.path.realpath(p)) for p in inputs]
    owned = _owned(out)
    for item in sorted(stage.rglob("*")):
        rel = item.relative_to(stage).as_posix()
        target = out / rel
        if item.is_dir() or not (target.exists() or target.is_symlink()):
            continue
        real = Path(os.path.realpath(target))
        if any(real == s or s in real.parents for s in sources):
            raise SetsplatError("the export would overwrite its own input",
                                "give --out another folder, or another --name", target)
        if not force and owned.get(rel) != _digest(target):
            raise SetsplatError("exists, and no earlier export wrote it (or it was changed "
                                "since)", "move it away, give --out another folder, or add "
                                "--force to replace it", target)


def _owned(out: Path) -> dict[str, str]:
    """Files an earlier export wrote into ``out`` and their SHA-256 (from its manifest)."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        owned = {str(k): str(v) for k, v in manifest["sha256"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}
    owned["manifest.json"] = _digest(out / "manifest.json")
    return owned


def _digest(path: Path) -> str | None:
    try:
        return sha256_file(path) if path.is_file() and not path.is_symlink() else None
    except OSError:
        return None


def check_file_name(name: str) -> str:
    """``--name`` is a plain file name: it must not lead out of --out."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or \
            name.startswith("."):
        raise SetsplatError(f"--name {name!r} is not a plain file name",
                            "give a name without slashes that does not start with a dot")
    return name


def units_name(frame: Frame, unscaled: bool = False) -> str:
    if unscaled:
        return "arbitrary structure-from-motion units (the scene is unscaled)"
    names = {1.0: "metres", 0.01: "centimetres", 0.001: "millimetres", 0.3048: "feet",
             0.0254: "inches"}
    return names.get(frame.meters_per_unit, f"{frame.meters_per_unit:g} m per unit")


def bounds_text(scene: GaussianScene) -> str:
    low, high = scene.bounds(percentile=1)
    return ("X {:.4g} .. {:.4g}, Y {:.4g} .. {:.4g}, Z {:.4g} .. {:.4g}"
            .format(*np.stack([low, high], 1).ravel()))


def write_manifest(stage: Path, export: Export) -> None:
    files = sorted(p for p in stage.rglob("*") if p.is_file())
    export.files = [str(p.relative_to(stage)) for p in files]
    record = export.as_dict()
    record["sha256"] = {str(p.relative_to(stage)): sha256_file(p) for p in files}
    record.pop("out")
    write_json(stage / "manifest.json", record)
    export.files.append("manifest.json")


def write_readme(stage: Path, title: str, sections: list[tuple[str, str]],
                 export: Export) -> None:
    lines = [title, "=" * len(title), ""]
    if export.unscaled:
        lines += [UNSCALED_NOTE, ""]
    for heading, body in sections:
        lines += [heading, "-" * len(heading), body.strip(), ""]
    (stage / "README.txt").write_text("\n".join(lines))


def matrix_text(matrix: np.ndarray) -> str:
    return "\n".join("    [" + "  ".join(f"{v:9.4g}" for v in row) + " ]" for row in matrix)


def engine_ply_scene(scene: GaussianScene) -> GaussianScene:
    """The full INRIA layout engine importers insist on (248 bytes a splat): SH degree 3
    (zero-padded), zero normals, no other extra properties."""
    zeros = np.zeros(len(scene), np.float32)
    return scene.with_sh_degree(3).replace(extras={"nx": zeros, "ny": zeros, "nz": zeros})
