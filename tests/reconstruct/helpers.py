"""Shared helpers for the reconstruct tests: ground truth readers and child targets."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from setsplat.core.camera import Camera

STAGE = Path(__file__).resolve().parents[2] / "sample_scans" / "stage"


def stage_truth() -> dict[str, Camera]:
    """The synthetic stage scan's cameras (world RDF, metres, floor at y = 0)."""
    truth = json.loads((STAGE / "truth.json").read_text())
    return {c["name"]: Camera.from_dict(c) for c in truth["cameras"]}


def templering_truth(folder: Path) -> dict[str, Camera]:
    """Middlebury's templeR_par.txt: ``name k(9) r(9) t(3)``, P = K [R|t], in OpenCV's
    pixel convention (centres on integers; ours are at +0.5)."""
    truth = {}
    lines = (folder / "templeR_par.txt").read_text().splitlines()[1:]
    for line in lines:
        words = line.split()
        if len(words) != 22:
            continue
        values = np.array(words[1:], float)
        k, r, t = values[:9].reshape(3, 3), values[9:18].reshape(3, 3), values[18:]
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = r, t
        truth[words[0]] = Camera(640, 480, k[0, 0], k[1, 1], k[0, 2] + 0.5, k[1, 2] + 0.5,
                                 pose, name=words[0])
    return truth


# ----- targets for isolate.run_isolated (they run in the child) ---------------------------
def echo(job, emit):
    emit(stage="echo", label="Echo", total=2)
    emit(stage="echo", done=2)
    return {"got": job["value"]}


def abort_now(job, emit):
    emit(stage="doomed", label="About to abort", total=None)
    os.abort()


def hang(job, emit):
    emit(stage="sleepy", label="Sleeping", total=None)
    time.sleep(600)


def refuse(job, emit):
    from setsplat.core.errors import SetsplatError

    raise SetsplatError("this input is bad", "fix it", "some/file.png")


def explode(job, emit):
    emit(stage="boom", label="Exploding", total=None)
    raise RuntimeError("[scene.cc:12] Check failed: something inside pycolmap")

