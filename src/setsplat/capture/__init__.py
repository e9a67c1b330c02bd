"""Capture: photos or a video in, a checked capture folder out; synthetic sample scans.

- ``ingest``: copy/convert images (or pick sharp video frames) into a capture folder
  with ``capture.json`` (sources, hashes, camera metadata, intrinsics priors, masks).
- ``qc``: blur, exposure (judged on what carries detail), near-duplicate and
  mixed-camera checks; ``qc.json``, the list of images to use, and a contact sheet.
- ``synth``: our own deterministic renderer of a small film-set room, with truth, and
  optionally a real shoot's troubles (exposure drift, crew in frame, a wall not shot).
"""

from setsplat.capture.check import CheckResult, check_capture
from setsplat.capture.ingest import IngestOptions, IngestResult, ingest
from setsplat.capture.manifest import Capture, CaptureImage, read_capture
from setsplat.capture.synth import SynthConfig, synthesize

__all__ = ["Capture", "CaptureImage", "CheckResult", "IngestOptions", "IngestResult",
           "SynthConfig", "check_capture", "ingest", "read_capture", "synthesize"]
