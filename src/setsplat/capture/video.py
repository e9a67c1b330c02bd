"""Pick frames from a video: the sharpest frame in each of ``target`` equal segments.

Every Nth frame would keep whatever motion blur happens to fall on it; taking the
sharpest of several candidates per segment keeps the spacing even and the blur out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from setsplat.core.errors import SetsplatError

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mts", ".m2ts", ".mxf",
                  ".wmv", ".mpg", ".mpeg", ".3gp"}
CANDIDATES = 10  # frames scored per segment
SCORE_SIZE = 480  # long side of the grey frame a candidate is scored at


@dataclass
class PickedFrame:
    index: int
    time: float | None  # seconds
    pixels: np.ndarray  # (H, W, 3) uint8
    sharpness: float


@dataclass
class VideoInfo:
    frames_estimated: int
    fps: float | None
    width: int
    height: int
    codec: str
    metadata: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # set when decoding stopped early


def pick_frames(path: str | Path, target: int, info: VideoInfo | None = None,
                on_frame: Callable[[int], None] | None = None) -> Iterator[PickedFrame]:
    """Yield the sharpest frame of each of ``target`` segments, in order. ``info`` (from
    ``probe``) is filled in with a problem if decoding stops early."""
    import av
    import cv2

    info = info or probe(path)
    total = info.frames_estimated
    segments = max(1, min(target, total))
    step = max(1, total // segments // CANDIDATES)
    best: PickedFrame | None = None
    current = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        scale = min(1.0, SCORE_SIZE / max(info.width, info.height))
        small = (max(16, round(info.width * scale)), max(16, round(info.height * scale)))
        frames = container.decode(stream)
        index = 0
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                info.problem = f"decoding stopped at frame {index}: {_why(exc)}"
                break
            segment = min(segments - 1, index * segments // total)
            if segment != current and best is not None:
                yield best
                best = None
            current = segment
            start = -(-segment * total // segments)
            if (index - start) % step == 0:
                gray = frame.reformat(width=small[0], height=small[1], format="gray")
                sharpness = float(cv2.Laplacian(gray.to_ndarray().astype(np.float32),
                                                cv2.CV_32F).var())
                if best is None or sharpness > best.sharpness:
                    best = PickedFrame(index, None if frame.time is None else float(frame.time),
                                       frame.to_ndarray(format="rgb24"), sharpness)
            if on_frame is not None:
                on_frame(index)
            index += 1
    if best is not None:
        yield best


def probe(path: str | Path) -> VideoInfo:
    """Size, rate and (estimated) frame count; a one-line error if it is not a video."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SetsplatError("has no video stream", "give a video file or a folder of "
                                    "photos", path)
            stream = container.streams.video[0]
            fps = float(stream.average_rate) if stream.average_rate else None
            total = stream.frames
            if not total and stream.duration and stream.time_base and fps:
                total = round(float(stream.duration * stream.time_base) * fps)
            if not total:
                total = sum(1 for packet in container.demux(stream) if packet.size)
            metadata = {str(k): str(v) for k, v in container.metadata.items()}
            info = VideoInfo(int(total), fps, stream.codec_context.width,
                             stream.codec_context.height, stream.codec_context.name, metadata)
    except av.FFmpegError as exc:
        raise SetsplatError(f"not a readable video ({_why(exc)})", "give a video file or a "
                            "folder of photos", path) from None
    if info.frames_estimated <= 0 or info.width <= 0:
        raise SetsplatError("video has no frames", "give a video with picture frames", path)
    return info


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def _why(exc: Exception) -> str:
    """FFmpeg's message without the errno noise."""
    return str(getattr(exc, "strerror", None) or exc).rstrip(".")
