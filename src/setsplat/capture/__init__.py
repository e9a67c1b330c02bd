"""Capture: photos or a video in, a checked capture folder out; synthetic sample scans.

- ``ingest``: copy/convert images (or pick sharp video frames) into a capture folder
  with ``capture.json`` (sources, hashes, camera metadata, intrinsics priors).
- ``qc``: blur, exposure, near-duplicate and mixed-camera checks; ``qc.json``, the list
  of images to use, and a contact sheet.
- ``synth``: our own deterministic renderer of a small film-set room, with truth.
"""
