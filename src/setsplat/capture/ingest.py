"""Ingest a folder of photos or a video into a capture folder.

The source is only ever read. Everything is written into a staging folder beside
``out`` and renamed into place at the end, so a failed ingest leaves nothing behind.
Images that cannot be used (empty, truncated, not an image) are listed in
``capture.json`` under ``skipped`` with the reason, and ingest goes on. Masks given with
the photos (``IngestOptions.masks``, see ``core.masks``) are turned and sized like their
photos into ``masks/`` and named in ``capture.json``.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from setsplat.capture import qc
from setsplat.capture.exif import CameraInfo
from setsplat.capture.images import BadImage, LoadedImage, apply_orientation, load_image
from setsplat.capture.manifest import Capture, CaptureImage
from setsplat.capture.video import is_video, pick_frames, probe
from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.fsutil import sha256_file, staged_folder
from setsplat.core.masks import find_masks, read_mask, write_mask
from setsplat.core.progress import progress

JPEG_QUALITY = 95


@dataclass(frozen=True)
class IngestOptions:
    max_size: int | None = None  # longest image side after ingest; None keeps the size
    frames: int = 150  # video: how many frames to pick
    jobs: int = 2  # images decoded in parallel
    overwrite: bool = False
    masks: Path | None = None  # a folder of one PNG per photo, white = keep

    def __post_init__(self) -> None:
        if self.max_size is not None and self.max_size < 64:
            raise SetsplatError(f"--max-size {self.max_size} is too small", "use 64 or more")
        if self.frames < 1:
            raise SetsplatError("--frames must be at least 1", None)
        if self.masks is not None and not Path(self.masks).is_dir():
            raise SetsplatError("masks folder not found",
                                "give a folder with one PNG per photo (white = keep)",
                                self.masks)


@dataclass
class IngestResult:
    capture: Capture
    seconds: float
    files_seen: int
    notes: list[str] = field(default_factory=list)


def ingest(src: str | Path, out: str | Path, options: IngestOptions = IngestOptions()
           ) -> IngestResult:
    """Make the capture folder ``out`` from ``src`` (a folder of photos or a video)."""
    start = time.perf_counter()
    src, out = Path(src), Path(out)
    if not src.exists():
        raise SetsplatError("no such file or folder", "check the path", src)
    _check_out(src, out, options.overwrite)
    with staged_folder(out, doing="writing the capture folder") as staging:
        (staging / "images").mkdir()
        if src.is_dir():
            capture, seen = _ingest_folder(src, staging, options)
        elif is_video(src) or not _looks_like_image(src):
            if options.masks is not None:
                raise SetsplatError("--masks needs a folder of photos, not a video",
                                    "extract the frames first, or leave out --masks", src)
            capture, seen = _ingest_video(src, staging, options)
        else:
            raise SetsplatError("is a single image", "give the folder of photos it is in", src)
        capture.save()
    capture.root = out
    return IngestResult(capture, time.perf_counter() - start, seen)


# ----- folders of photos ----------------------------------------------------------------
def _ingest_folder(src: Path, staging: Path, options: IngestOptions) -> tuple[Capture, int]:
    files = sorted((p for p in src.rglob("*") if p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(src).parts)),
                   key=lambda p: _natural(p.relative_to(src).as_posix()))
    if not files:
        raise SetsplatError("folder has no files", "give a folder of photos or a video file",
                            src)
    names = _output_bases(src, files)
    images: list[CaptureImage] = []
    skipped: list[dict[str, str]] = []
    masks = (find_masks(options.masks, [p.relative_to(src).as_posix() for p in files])
             if options.masks is not None else {})

    def one(item: tuple[Path, str]):
        path, base = item
        rel = path.relative_to(src).as_posix()
        if is_video(path):
            return rel, "a video inside a photo folder: ingest it on its own"
        try:
            return rel, _ingest_photo(path, rel, base, staging, options, masks.get(rel))
        except BadImage as exc:
            return rel, str(exc)

    with progress("ingesting photos", len(files)) as advance, \
            ThreadPoolExecutor(max(1, options.jobs)) as pool:
        for rel, result in pool.map(one, zip(files, names)):
            if isinstance(result, CaptureImage):
                images.append(result)
            else:
                skipped.append({"source": rel, "reason": result})
            advance(images=len(images), skipped=len(skipped))
    if not images:
        first = "; ".join(f"{s['source']}: {s['reason']}" for s in skipped[:3])
        raise SetsplatError(f"none of the {len(files)} files is a usable image ({first})",
                            "give a folder of photos (JPEG, PNG, TIFF, ...)", src)
    return Capture(staging, "photos", str(src.resolve()), images, skipped), len(files)


def _ingest_photo(path: Path, rel: str, base: str, staging: Path,
                  options: IngestOptions, mask: Path | None = None) -> CaptureImage:
    loaded = load_image(path)
    pixels, resized = _fit(loaded.pixels, options.max_size)
    if not resized and _can_copy(loaded, path):
        name = f"images/{base}{path.suffix.lower()}"
        try:
            shutil.copyfile(path, staging / name)
        except OSError as exc:
            raise os_error(exc, staging / name, "copying the image") from exc
    elif loaded.format in ("JPEG", "MPO"):
        name = f"images/{base}.jpg"
        _save(pixels, staging / name, "JPEG", quality=JPEG_QUALITY)
    else:
        name = f"images/{base}.png"
        _save(pixels, staging / name, "PNG", compress_level=3)
    timestamp, stamp_source = loaded.camera.timestamp, "exif"
    if timestamp is None:
        timestamp = datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
        stamp_source = "file modified time"
    record = _record(name, rel, sha256_file(path), pixels, loaded.pixels.shape,
                     loaded.bit_depth, loaded.camera, loaded.rotated, timestamp, stamp_source)
    record.value_scale = loaded.value_scale
    if mask is not None:
        record.mask = f"masks/{base}.png"
        _carry_mask(mask, loaded, pixels.shape, staging / record.mask)
    return record


def _carry_mask(source: Path, loaded: LoadedImage, shape: tuple[int, ...], out: Path) -> None:
    """The photo's mask, turned and sized as its stored image; a mask may be drawn on the
    upright photo or on the camera's pixels before the EXIF turn."""
    from PIL import Image

    keep = read_mask(source)
    upright = loaded.pixels.shape[:2]
    if keep.shape != upright and keep.shape == upright[::-1] and loaded.rotated:
        keep = apply_orientation(keep.astype(np.uint8) * 255, loaded.camera.orientation) > 127
    if keep.shape != upright:
        raise SetsplatError(f"mask is {keep.shape[1]}x{keep.shape[0]} but its photo is "
                            f"{upright[1]}x{upright[0]}",
                            "give each photo a mask of its own size", source)
    if keep.shape != shape[:2]:  # --max-size shrank the photo: a kept share above half
        grey = Image.fromarray(keep.astype(np.uint8) * 255, "L")
        keep = np.asarray(grey.resize((shape[1], shape[0]), Image.Resampling.BOX)) >= 128
    write_mask(out, keep)


def _can_copy(loaded: LoadedImage, path: Path) -> bool:
    """Byte-for-byte copies keep the camera's own encoding: 8-bit JPEG or RGB PNG that
    needs no rotation."""
    if loaded.camera.orientation != 1 or loaded.bit_depth != 8:
        return False
    return loaded.format in ("JPEG", "MPO") or (loaded.format == "PNG" and loaded.mode == "RGB")


# ----- video ----------------------------------------------------------------------------
def _ingest_video(src: Path, staging: Path, options: IngestOptions) -> tuple[Capture, int]:
    info = probe(src)
    digest = sha256_file(src)
    camera = CameraInfo(make=_meta(info.metadata, "make"), model=_meta(info.metadata, "model"))
    created = _creation_time(info.metadata.get("creation_time"))
    images = []
    with progress("reading video", info.frames_estimated) as advance:
        picked = pick_frames(src, options.frames, info, on_frame=lambda _: advance())
        for frame in picked:
            pixels, _ = _fit(frame.pixels, options.max_size)
            name = f"images/frame_{frame.index:06d}.jpg"
            _save(pixels, staging / name, "JPEG", quality=JPEG_QUALITY)
            stamp = None
            if created is not None and frame.time is not None:
                stamp = (created + timedelta(seconds=frame.time)).isoformat()
            record = _record(name, src.name, digest, pixels, frame.pixels.shape, 8, camera,
                             False, stamp, "video creation_time + frame time" if stamp else None)
            record.frame = {"index": frame.index, "time": frame.time}
            images.append(record)
    if not images:
        raise SetsplatError(f"no decodable frames ({info.problem or 'the stream is empty'})",
                            "check the file plays, or re-export it", src)
    skipped = [{"source": src.name, "reason": info.problem}] if info.problem else []
    return Capture(staging, "video", str(src.resolve()), images, skipped), info.frames_estimated


def _meta(metadata: dict[str, str], key: str) -> str | None:
    for name, value in metadata.items():
        if name.lower() == key or name.lower().endswith("." + key):
            return value.strip() or None
    return None


def _creation_time(value: str | None) -> datetime | None:
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    return None


# ----- shared ---------------------------------------------------------------------------
def _record(name: str, source: str, digest: str, pixels: np.ndarray, source_shape,
            bit_depth: int, camera: CameraInfo, rotated: bool, timestamp: str | None,
            stamp_source: str | None) -> CaptureImage:
    height, width = pixels.shape[:2]
    prior = None
    focal = camera.focal_px(width, height, rotated)
    if focal is not None:
        prior = {"fx": focal[0], "fy": focal[0], "cx": width / 2, "cy": height / 2,
                 "source": focal[1]}
    return CaptureImage(name, source, digest, width, height,
                        (int(source_shape[1]), int(source_shape[0])), bit_depth,
                        camera.to_dict(), prior, timestamp, stamp_source,
                        scores=qc.measure(pixels).to_dict())


def _fit(pixels: np.ndarray, max_size: int | None) -> tuple[np.ndarray, bool]:
    """Downscale so the long side is at most ``max_size`` (never upscales)."""
    from PIL import Image

    height, width = pixels.shape[:2]
    if max_size is None or max(width, height) <= max_size:
        return pixels, False
    scale = max_size / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS)), True


def _save(pixels: np.ndarray, path: Path, fmt: str, **params) -> None:
    from PIL import Image

    try:
        Image.fromarray(pixels).save(path, fmt, **params)
    except OSError as exc:
        raise os_error(exc, path, "writing the image") from exc


def _output_bases(src: Path, files: list[Path]) -> list[str]:
    """File names for the capture, flat and unique: 'day1/IMG_1.JPG' -> 'day1__IMG_1'; two
    sources that would clash (a.png, a.tif) keep their suffix in the name."""
    bases = [re.sub(r"[^\w.-]", "_", p.relative_to(src).with_suffix("").as_posix()
                    .replace("/", "__")) for p in files]
    counts: dict[str, int] = {}
    for b in bases:
        counts[b.lower()] = counts.get(b.lower(), 0) + 1
    return [b if counts[b.lower()] == 1 else f"{b}_{p.suffix.lstrip('.').lower()}"
            for b, p in zip(bases, files)]


def _natural(text: str) -> list:
    """Sort key that puts img2 before img10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _looks_like_image(path: Path) -> bool:
    from PIL import Image

    return path.suffix.lower() in Image.registered_extensions()


def _check_out(src: Path, out: Path, overwrite: bool) -> None:
    src_abs, out_abs = src.resolve(), out.resolve()
    if src.is_dir() and (out_abs == src_abs or src_abs in out_abs.parents):
        raise SetsplatError("the capture folder would be inside the source",
                            "choose an --out outside the source; the source is never "
                            "written to", out)
    if out.exists() and not out.is_dir():
        raise SetsplatError("exists and is not a folder", "choose another --out", out)
    if out.is_dir() and any(out.iterdir()) and not overwrite and not _unchecked_of(out, src):
        raise SetsplatError("already exists and is not empty",
                            "choose another --out, or pass --overwrite to replace it", out)


def _unchecked_of(out: Path, src: Path) -> bool:
    """``out`` is a capture of ``src`` whose QC never finished (an ingest stopped during
    its check): running the ingest again may redo it."""
    from setsplat.capture.manifest import read_capture

    try:
        capture = read_capture(out)
    except SetsplatError:
        return False
    return not capture.checked and capture.source == str(src.resolve())
