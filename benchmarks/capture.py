"""Capture: ingest + QC check against a bare OpenCV loop, and synth render speed, in one run.

    .venv/bin/python benchmarks/capture.py [--repeats 3] [--json]

Inputs: the bundled ``sample_scans/stage`` (36 JPEGs, 640x480) and, when it is beside
this checkout, ``../shared/data/templering/images`` (19 PNGs, 640x480). "setsplat" is
``capture ingest`` followed by ``capture check`` (decode, hash, copy or re-encode,
EXIF, QC scores, duplicates, contact sheet, manifests). The peer, "bare OpenCV", is
the least a QC pass can do: ``cv2.imread`` + grey + Laplacian variance + clipped
fractions per image. The ratio is our overhead for a complete, checked capture. The
synth row renders the stage scan's first 6 images with its options (no peer: it is
our own renderer). Everything runs on this machine's cores as they are; timings on a
shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = {
    "stage (36 JPEG)": ROOT / "sample_scans" / "stage" / "images",
    "templering (19 PNG)": ROOT.parent / "shared" / "data" / "templering" / "images",
}


def ours(src: Path) -> float:
    from setsplat.capture.check import check_capture
    from setsplat.capture.ingest import IngestOptions, ingest

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ingest(src, Path(tmp) / "cap", IngestOptions())
        check_capture(Path(tmp) / "cap")
        return time.perf_counter() - start


def bare_opencv(src: Path) -> float:
    import cv2
    import numpy as np

    start = time.perf_counter()
    for path in sorted(src.iterdir()):
        gray = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
        cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F).var()
        _ = (np.count_nonzero(gray >= 250), np.count_nonzero(gray <= 5))
    return time.perf_counter() - start


def synth_six() -> float:
    from setsplat.capture.synth import SynthConfig, read_synth_record, synthesize

    config = SynthConfig.from_dict(read_synth_record(ROOT / "sample_scans" / "stage")["options"])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        synthesize(config, tmp, indices=range(6))
        return time.perf_counter() - start


def main() -> None:
    from setsplat.core.progress import set_quiet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    set_quiet(True)
    results = {}
    for name, src in INPUTS.items():
        if not src.is_dir():
            print(f"(skipping {name}: {src} is not there)")
            continue
        ours(src), bare_opencv(src)  # warm the page cache and the imports
        results[name] = {
            "setsplat ingest+check": statistics.median(ours(src) for _ in range(args.repeats)),
            "bare OpenCV QC loop": statistics.median(bare_opencv(src)
                                                     for _ in range(args.repeats)),
        }
    results["synth: 6 stage images"] = {"setsplat synth": synth_six()}
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"median of {args.repeats}; seconds")
    for name, row in results.items():
        cells = "  ".join(f"{tool} {seconds:6.2f} s" for tool, seconds in row.items())
        ratio = ""
        if len(row) == 2:
            a, b = row.values()
            ratio = f"  ours/them {a / b:5.1f}"
        print(f"{name:24s} {cells}{ratio}")


if __name__ == "__main__":
    main()
