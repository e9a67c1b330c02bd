"""``check``: run QC over a capture folder and write what it found.

Writes ``qc.json`` (every flag with its reason, the thresholds, the list of images to
use), ``qc_contact_sheet.png`` (thumbnails with the flags drawn on) and updates
``capture.json`` (per image ``use`` and ``flags``). "Culling" means exactly this:
culled images stay in the folder but get ``use: false``, so SfM leaves them out;
``keep_all`` reports the same flags and keeps every image in use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.capture import qc
from setsplat.capture.manifest import Capture, read_capture
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import atomic_write
from setsplat.core.jsonio import write_json
from setsplat.core.limits import open_image
from setsplat.core.progress import track

QC_FILE = "qc.json"
CONTACT_SHEET = "qc_contact_sheet.png"
THUMB_SIZE = 256


@dataclass
class CheckResult:
    capture: Capture
    verdicts: list[qc.ImageVerdict]
    summary: dict[str, Any]
    report_path: Path
    sheet_path: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "capture": str(self.capture.root),
            "summary": self.summary,
            "flagged": [{"name": v.name, "use": v.use, "flags": [asdict(f) for f in v.flags]}
                        for v in self.verdicts if v.flags],
            "skipped": self.capture.skipped,
            "qc_json": str(self.report_path),
            "contact_sheet": str(self.sheet_path),
        }


def check_capture(folder: str | Path, thresholds: qc.Thresholds | None = None,
                  keep_all: bool = False) -> CheckResult:
    """QC a capture folder made by ``ingest``; see the module docstring for the outputs."""
    thresholds = thresholds or qc.Thresholds()
    from setsplat.capture.contact_sheet import draw_contact_sheet

    capture = read_capture(folder)
    thumbs, signatures, scores, missing = [], [], [], {}
    for image in track(capture.images, "checking"):
        stored = qc.Scores.from_dict(image.scores)
        thumb, measured = _thumbnail(capture.path(image), need_scores=stored is None)
        if thumb is None:
            missing[image.name] = measured
            thumb = np.zeros((THUMB_SIZE * 3 // 4, THUMB_SIZE, 3), np.uint8)
        elif measured is not None:
            image.scores, stored = measured.to_dict(), measured
        thumbs.append(thumb)
        signatures.append(qc.signature(thumb))
        scores.append(stored or qc.Scores(0.0, 0.0, 0.0, 0.0))
    verdicts = qc.evaluate([im.name for im in capture.images], scores, signatures,
                           [im.camera_id for im in capture.images],
                           [(im.width, im.height) for im in capture.images], thresholds,
                           keep_all)
    for verdict in verdicts:
        if verdict.name in missing:
            verdict.flags.insert(0, qc.Flag("unreadable", "cull", missing[verdict.name]))
            verdict.use = False
    for image, verdict in zip(capture.images, verdicts):
        image.use, image.flags = verdict.use, [f.kind for f in verdict.flags]
    capture.checked, capture.keep_all = True, keep_all
    summary = qc.summary(verdicts)
    summary["skipped_files"] = len(capture.skipped)
    root = capture.root
    report = {
        "version": 1,
        "keep_all": keep_all,
        "thresholds": asdict(thresholds),
        "summary": summary,
        "use": [v.name for v in verdicts if v.use],
        "images": [{"name": v.name, "use": v.use, "flags": [asdict(f) for f in v.flags],
                    "scores": im.scores} for v, im in zip(verdicts, capture.images)],
        "skipped": capture.skipped,
        "contact_sheet": CONTACT_SHEET,
    }
    with atomic_write(root / CONTACT_SHEET) as f:
        draw_contact_sheet(capture, thumbs, verdicts, summary).save(f, "PNG", compress_level=1)
    write_json(root / QC_FILE, report, indent=1)
    capture.save()
    return CheckResult(capture, verdicts, summary, root / QC_FILE, root / CONTACT_SHEET)


def _thumbnail(path: Path, need_scores: bool):
    """(thumbnail pixels, scores if asked) or (None, reason) for a file that went bad."""
    from PIL import Image

    try:
        if need_scores:
            from setsplat.capture.images import load_image

            pixels = load_image(path).pixels
            image = Image.fromarray(pixels)
            scores = qc.measure(pixels)
        else:
            image = open_image(path)
            image.draft("RGB", (THUMB_SIZE, THUMB_SIZE))
            image = image.convert("RGB")
            scores = None
        image.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR)
        return np.asarray(image), scores
    except SetsplatError as exc:
        return None, exc.what
    except Exception as exc:  # any decoder failure means the same to the report
        return None, f"image in the capture cannot be read any more ({type(exc).__name__})"
