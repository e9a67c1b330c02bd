"""MP4 in and out through PyAV: H.264 previews and depth videos, probing AI clips."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.errors import SetsplatError

# Rates people write as decimals but mean as NTSC fractions.
_NTSC = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001))


def rate_fraction(fps: float) -> Fraction:
    """The exact rate for a frame rate given as a number (23.976 -> 24000/1001)."""
    for rate in _NTSC:
        if abs(fps - float(rate)) < 1e-3:
            return rate
    return Fraction(fps).limit_denominator(1000)


class Mp4Writer:
    """Frames (H, W, 3) uint8 RGB -> H.264 MP4 (yuv420p, odd sizes padded by a pixel)."""

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float,
                 crf: int = 18) -> None:
        import av

        self.size = (width, height)
        self.container = av.open(os.fspath(path), "w")
        self.stream = self.container.add_stream("libx264", rate=rate_fraction(fps))
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "fast"}
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        import av

        pad_y, pad_x = self.stream.height - rgb.shape[0], self.stream.width - rgb.shape[1]
        if pad_x or pad_y:
            rgb = np.pad(rgb, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.container.close()


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    codec: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Size, rate, frame count and duration of a video's first video stream; its first
    frame is decoded, so a file that opens but cannot be played is refused too."""
    import av

    path = Path(path)
    if not path.is_file():
        raise SetsplatError("no such file", "check the path of the clip", path)
    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                raise SetsplatError("has no video stream", "give a video file (MP4, MOV)", path)
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            frames = stream.frames or sum(1 for p in container.demux(stream) if p.size)
            container.seek(0)
            next(container.decode(stream))
            codec = stream.codec_context.name
            width, height = stream.codec_context.width, stream.codec_context.height
    except SetsplatError:
        raise
    except StopIteration:
        raise SetsplatError("has no decodable frame", "re-export the clip", path) from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SetsplatError(f"not a readable video ({first})", "give an MP4 or MOV that plays",
                            path) from None
    if not rate or not frames:
        raise SetsplatError("the video has no frame rate or no frames", "re-export the clip",
                            path)
    return VideoInfo(int(width), int(height), float(rate), int(frames),
                     float(frames / rate), str(codec))
