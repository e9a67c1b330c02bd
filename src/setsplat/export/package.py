"""Writing an export: every file goes into a staging folder beside ``--out`` and moves
into place only when the whole export succeeded, with a ``manifest.json`` (files,
SHA-256, frame, units, transform) and, for packages, a README.txt for the artist."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
def staging(out: Path) -> Iterator[Path]:
    """A fresh folder beside ``out``; on success its files replace those in ``out``."""
    with staged_folder(out, merge=True, doing="writing the export") as stage:
        yield stage


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
