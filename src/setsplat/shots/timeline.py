"""``shots timeline EP01``: an episode's shots in order as an OpenTimelineIO timeline.

Two video tracks, one slot per shot, each slot as long as its shot:
``Plates`` (bottom): the latest render, its preview MP4 as the active media and the
frame sequence (``rgb/<Shot>.####.png``) as the ``plates`` alternative; a marker with
the shot's name on every slot. ``AI`` (top): the selected take of each shot. A shot
without a render or a selected take leaves a gap, and a warning.

The file type follows ``--out``'s suffix: ``.otio`` (JSON), ``.otioz`` (zip bundle with
the media) or ``.otiod`` (folder bundle), the adapters that ship with OpenTimelineIO.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from setsplat.assets import Library
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import atomic_path

from . import store
from .model import Shot
from .plates import MANIFEST

ADAPTERS = {".otio": "otio_json", ".otioz": "otioz", ".otiod": "otiod"}
PLATES_KEY = "plates"
_EPISODE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,31}")


def build_timeline(episode: str, library: Library | None = None) -> tuple[Any, list[str]]:
    """The timeline of ``episode`` and the warnings met on the way."""
    import opentimelineio as otio

    library = library or Library.resolve()
    if not _EPISODE.fullmatch(episode):
        raise SetsplatError(f"episode {episode!r} is not a shot name prefix",
                            "give the part before the first underscore, e.g. EP01")
    with store.open_catalog(library) as catalog:
        shots = store.list_shots(catalog, episode=episode)
        if not shots:
            raise SetsplatError(f"no shots in episode {episode}",
                                f"make one with `setsplat shots new {episode}_SH010 ...`",
                                catalog.path)
        rates = sorted({shot.fps for shot, _ in shots})
        if len(rates) > 1:
            raise SetsplatError(f"the shots of {episode} run at different rates "
                                f"({', '.join(f'{r:g}' for r in rates)} fps)",
                                "give them one rate with `shots new --replace --fps`")
        details = [(shot, store.takes(catalog, row["id"]), store.renders(catalog, row["id"]))
                   for shot, row in shots]
    fps = rates[0]
    timeline = otio.schema.Timeline(name=episode, metadata={"setsplat": {"episode": episode,
                                                                         "fps": fps}})
    plates = otio.schema.Track(name="Plates", kind=otio.schema.TrackKind.Video)
    ai = otio.schema.Track(name="AI", kind=otio.schema.TrackKind.Video)
    warnings: list[str] = []
    for shot, shot_takes, shot_renders in details:
        plate = _plate_item(shot, shot_renders, library, warnings)
        plate.markers.append(otio.schema.Marker(
            name=shot.name, marked_range=_range(0, shot.frame_count, shot.fps),
            color=otio.schema.MarkerColor.RED,
            metadata={"setsplat": {"shot": shot.name, "asset": shot.asset,
                                   "frames": [shot.frame_start, shot.frame_end],
                                   "notes": shot.notes}}))
        plates.append(plate)
        for item in _ai_items(shot, shot_takes, library, warnings):
            ai.append(item)
    timeline.tracks.extend([plates, ai])
    return timeline, warnings


def write_timeline(episode: str, out: str | os.PathLike,
                   library: Library | None = None) -> dict[str, Any]:
    """Write the episode's timeline to ``out`` (atomically); returns a summary."""
    import opentimelineio as otio

    out = Path(out)
    adapter = ADAPTERS.get(out.suffix.lower())
    if adapter is None:
        raise SetsplatError(f"cannot tell the timeline format from {out.suffix or 'no suffix'}",
                            f"end --out with {', '.join(ADAPTERS)}", out)
    timeline, warnings = build_timeline(episode, library)
    try:
        with atomic_path(out, doing="writing the timeline") as written:
            otio.adapters.write_to_file(timeline, os.fspath(written), adapter_name=adapter)
    except otio.exceptions.OTIOError as exc:
        raise SetsplatError(f"OpenTimelineIO could not write it ({exc})",
                            "render the shots (media must be files) or write .otio", out
                            ) from None
    return {"episode": episode, "out": str(out), "adapter": adapter,
            "shots": [_summary(item) for item in timeline.tracks[0]],
            "duration_s": timeline.duration().to_seconds(), "warnings": warnings}


def _summary(item: Any) -> dict[str, Any]:
    marker = item.markers[0]
    return {"shot": marker.name, "frames": item.duration().to_frames(),
            "plate": type(item).__name__ == "Clip"}


def _range(start: float, frames: float, fps: float) -> Any:
    import opentimelineio as otio

    return otio.opentime.TimeRange(otio.opentime.RationalTime(start, fps),
                                   otio.opentime.RationalTime(frames, fps))


def _url(path: Path) -> str:
    from opentimelineio import url_utils

    return url_utils.url_from_filepath(os.fspath(path.absolute()))


def _gap(frames: float, fps: float) -> Any:
    import opentimelineio as otio

    return otio.schema.Gap(source_range=_range(0, frames, fps))


def _plate_item(shot: Shot, shot_renders: list[dict[str, Any]], library: Library,
                warnings: list[str]) -> Any:
    """The newest render of the shot that is still on disk and matches its frames."""
    import opentimelineio as otio

    for render in shot_renders:
        folder = Path(render["folder"])
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        if (manifest["frame_start"], manifest["frame_end"], manifest["fps"]) != \
                (shot.frame_start, shot.frame_end, shot.fps):
            warnings.append(f"{shot.name}: its render in {folder} has other frames than the "
                            "shot now; render it again")
            break
        preview = otio.schema.ExternalReference(
            target_url=_url(folder / manifest["preview"]),
            available_range=_range(0, shot.frame_count, shot.fps))
        rgb = manifest["files"]["rgb"]
        sequence = otio.schema.ImageSequenceReference(
            target_url_base=_url(folder / Path(rgb).parent) + "/",
            name_prefix=f"{shot.name}.", name_suffix=Path(rgb).suffix,
            start_frame=shot.frame_start, frame_step=1, rate=shot.fps, frame_zero_padding=4,
            available_range=_range(0, shot.frame_count, shot.fps))
        clip = otio.schema.Clip(name=shot.name, source_range=_range(0, shot.frame_count,
                                                                    shot.fps),
                                metadata={"setsplat": {"render": str(folder),
                                                       "stage": manifest["stage"]}})
        clip.set_media_references({otio.schema.Clip.DEFAULT_MEDIA_KEY: preview,
                                   PLATES_KEY: sequence}, otio.schema.Clip.DEFAULT_MEDIA_KEY)
        return clip
    else:
        warnings.append(f"{shot.name}: not rendered; `setsplat shots render {shot.name}`")
    return _gap(shot.frame_count, shot.fps)


def _ai_items(shot: Shot, shot_takes: list[dict[str, Any]], library: Library,
              warnings: list[str]) -> list[Any]:
    """The selected take trimmed to the shot, and a gap for what it lacks."""
    import opentimelineio as otio

    chosen = next((t for t in shot_takes if t["selected"]), None)
    if chosen is None:
        warnings.append(f"{shot.name}: no AI take selected" + (
            "" if shot_takes else "; `setsplat shots add-clip`"))
        return [_gap(shot.frame_count, shot.fps)]
    rate = chosen["fps"]
    wanted = otio.opentime.RationalTime(shot.frame_count, shot.fps).rescaled_to(rate)
    frames = min(float(chosen["frames"]), wanted.value)
    clip = otio.schema.Clip(
        name=f"{shot.name} take {chosen['take']}",
        media_reference=otio.schema.ExternalReference(
            target_url=_url(library.root / chosen["path"]),
            available_range=_range(0, chosen["frames"], rate)),
        source_range=_range(0, frames, rate),
        metadata={"setsplat": {"shot": shot.name, "take": chosen["take"],
                               "source": chosen["source"], "sha256": chosen["sha256"]}})
    missing = shot.frame_count - otio.opentime.RationalTime(frames, rate).rescaled_to(
        shot.fps).value
    if missing > 1e-6:
        warnings.append(f"{shot.name}: take {chosen['take']} is {missing:g} frames short of "
                        "the shot; a gap fills the rest")
        return [clip, _gap(missing, shot.fps)]
    return [clip]

