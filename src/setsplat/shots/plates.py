"""``shots render``: plates, depth, alpha and camera data along a shot's camera, a preview
MP4, the AI conditioning package and the USD shot stage, in one folder::

    <out>/rgb/EP01_SH010.1001.png           color (or .exr: linear RGBA float, --exr)
    <out>/alpha/EP01_SH010.1001.png         coverage, 8-bit
    <out>/depth/EP01_SH010.1001.png         camera-space z: 16-bit x depth/depth.json scale
                                            (or .exr: float metres in channel Z, --exr)
    <out>/camera/EP01_SH010.1001.json       intrinsics and pose (OpenCV and USD/glTF)
    <out>/EP01_SH010.preview.mp4            H.264 preview
    <out>/EP01_SH010.usda                   the USD shot stage
    <out>/conditioning/                     first_frame.png, last_frame.png, depth.mp4,
                                            camera_trajectory.json, prompt.txt
    <out>/render.json                       what was rendered, how, and where

The folder is built beside ``<out>`` and swapped in whole at the end.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.assets import Library, load, resolve
from setsplat.core.color import srgb_to_linear
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import atomic_write, staged_folder
from setsplat.core.jsonio import write_json
from setsplat.core.limits import open_image
from setsplat.core.progress import progress
from setsplat.core.scene import GaussianScene

from . import store
from .camera_data import CONVENTIONS, camera_record, shot_cameras
from .model import Shot
from .mp4 import Mp4Writer
from .paths import describe
from .stage import write_shot_stage

MANIFEST = "render.json"
DEPTH_META = "depth/depth.json"
NO_HIT_ALPHA = 0.01  # below this coverage a pixel's depth is written as 0 (nothing hit)
CONDITIONING = "conditioning"


@dataclass(frozen=True)
class RenderOptions:
    out: Path | None = None                  # default: <library>/shots/<Shot>/render
    resolution: tuple[int, int] | None = None  # default: the shot's (same shape only)
    exr: bool = False
    lod: str = "full"
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sh_degree: int | None = None
    backend: str = "auto"


def frame_stem(shot: Shot, frame: int) -> str:
    return f"{shot.name}.{frame:04d}"


def render_shot(name: str, library: Library | None = None,
                options: RenderOptions = RenderOptions()) -> dict[str, Any]:
    """Render a shot from the catalog; returns the manifest written as render.json."""
    library = library or Library.resolve()
    with store.open_catalog(library) as catalog:
        shot, row = store.get_shot(catalog, name)
    record, interface = resolve(shot.asset, library)
    width, height = options.resolution or shot.resolution
    cameras = shot_cameras(shot, width, height)
    out = Path(options.out) if options.out else store.shot_dir(library, shot.name) / "render"
    _check_out(out)
    scene = load(shot.asset, library, lod=options.lod)
    started = time.perf_counter()
    with staged_folder(out, doing="writing the render") as folder:
        manifest, ends = _render(shot, scene, cameras, folder, options)
        write_shot_stage(folder / f"{shot.name}.usda", shot, cameras, interface)
        _conditioning(folder, shot, record, cameras, manifest, ends)
        manifest.update(
            shot=shot.as_dict(), asset={"ref": record["ref"], "description":
                                        record["description"], "layer": str(interface)},
            folder=str(out.absolute()), stage=f"{shot.name}.usda", lod=options.lod,
            seconds=round(time.perf_counter() - started, 3), conventions=CONVENTIONS)
        write_json(folder / MANIFEST, manifest)
    with store.open_catalog(library) as catalog:
        store.add_render(catalog, row["id"], {
            "folder": manifest["folder"], "frame_start": shot.frame_start,
            "frame_end": shot.frame_end, "fps": shot.fps, "width": width, "height": height,
            "exr": options.exr, "backend": manifest["backend"], "seconds": manifest["seconds"]})
    return manifest


def _render(shot: Shot, scene: GaussianScene, cameras: list, folder: Path,
            options: RenderOptions) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """Every frame's files and the preview; the manifest and the first and last frame."""
    import torch

    from setsplat.render import render_scene
    from setsplat.render.image_files import write_exr

    use_cuda = options.backend != "cpu" and torch.cuda.is_available()
    device = "cuda" if use_cuda else "cpu"
    width, height = cameras[0].width, cameras[0].height
    suffix = "exr" if options.exr else "png"
    depth_scale = _depth_scale(scene, cameras)
    for sub in ("rgb", "alpha", "depth", "camera"):
        (folder / sub).mkdir()
    ranges, first, last, backend = [], None, None, "cpu"
    preview = f"{shot.name}.preview.mp4"
    with Mp4Writer(folder / preview, width, height, shot.fps) as video, \
            progress(f"rendering {shot.name}", total=len(cameras)) as advance:
        for frame, camera in zip(shot.frames, cameras):
            output = render_scene(scene, [camera], sh_degree=options.sh_degree,
                                  background=options.background, device=device,
                                  backend=options.backend)[0]
            backend = output.backend
            rgb = output.rgb[0, ..., :3].clamp(0, 1).cpu().numpy()
            alpha = output.alpha[0, ..., 0].clamp(0, 1).cpu().numpy()
            depth = output.depth[0, ..., 0].cpu().numpy()
            depth = np.where(alpha >= NO_HIT_ALPHA, depth, 0.0).astype(np.float32)
            rgb8 = np.round(rgb * 255).astype(np.uint8)
            stem = frame_stem(shot, frame)
            if options.exr:
                write_exr(folder / "rgb" / f"{stem}.exr",
                          {"RGBA": np.dstack([srgb_to_linear(rgb), alpha]).astype(np.float32)})
                write_exr(folder / "depth" / f"{stem}.exr", {"Z": depth})
            else:
                _png(folder / "rgb" / f"{stem}.png", rgb8)
                _png(folder / "depth" / f"{stem}.png", depth_to_png16(depth, depth_scale))
            _png(folder / "alpha" / f"{stem}.png", np.round(alpha * 255).astype(np.uint8))
            write_json(folder / "camera" / f"{stem}.json",
                        {"shot": shot.name, "image": f"rgb/{stem}.{suffix}",
                         **camera_record(shot, frame, camera)})
            video.write(rgb8)
            hit = depth[depth > 0]
            if hit.size:
                ranges.append(np.percentile(hit, [1, 99]))
            first = rgb8 if first is None else first
            last = rgb8
            advance()
    depth_meta = {"units": _units(scene), "meaning": "camera-space z (along the optical "
                  "axis), not the distance along the ray; 0 where nothing was hit "
                  f"(coverage below {NO_HIT_ALPHA})", "format": suffix}
    if not options.exr:
        depth_meta.update(scale=depth_scale, decode="z = png_value * scale")
        write_json(folder / DEPTH_META, depth_meta)
    near, far = ((float(min(r[0] for r in ranges)), float(max(r[1] for r in ranges)))
                 if ranges else (0.0, 0.0))
    return {"frames": len(cameras), "frame_start": shot.frame_start,
            "frame_end": shot.frame_end, "fps": shot.fps, "duration_s": shot.duration_s,
            "width": width, "height": height, "backend": backend, "preview": preview,
            "depth": {**depth_meta, "near": near, "far": far},
            "color": ("linear Rec.709 (sRGB primaries), alpha in A" if options.exr else
                       "sRGB, 8-bit"),
            "files": {"rgb": f"rgb/{shot.name}.####.{suffix}",
                      "alpha": f"alpha/{shot.name}.####.png",
                      "depth": f"depth/{shot.name}.####.{suffix}",
                      "camera": f"camera/{shot.name}.####.json"}}, (first, last)


def _conditioning(folder: Path, shot: Shot, record: dict[str, Any], cameras: list,
                  manifest: dict[str, Any], ends: tuple[np.ndarray, np.ndarray]) -> None:
    """What an image-to-video or depth-conditioned video model is given."""
    out = folder / CONDITIONING
    out.mkdir()
    _png(out / "first_frame.png", ends[0])
    _png(out / "last_frame.png", ends[1])
    depth = manifest["depth"]
    near, far = depth["near"], depth["far"]
    with Mp4Writer(out / "depth.mp4", manifest["width"], manifest["height"], shot.fps) as video:
        for frame in shot.frames:
            z = read_depth(folder / "depth" / f"{frame_stem(shot, frame)}.{depth['format']}",
                           depth.get("scale"))
            video.write(np.repeat(inverse_depth_image(z, near, far)[..., None], 3, -1))
    trajectory = {
        "shot": shot.name, "set": record["ref"], "fps": shot.fps,
        "frame_start": shot.frame_start, "frame_end": shot.frame_end,
        "frames": len(cameras), "duration_s": shot.duration_s,
        "width": manifest["width"], "height": manifest["height"],
        "conventions": CONVENTIONS,
        "cameras": [camera_record(shot, f, c) for f, c in zip(shot.frames, cameras)],
    }
    write_json(out / "camera_trajectory.json", trajectory)
    write_json(out / "conditioning.json", {
        "first_frame": "first_frame.png", "last_frame": "last_frame.png",
        "depth_video": "depth.mp4", "camera_trajectory": "camera_trajectory.json",
        "prompt": "prompt.txt", "fps": shot.fps, "frames": len(cameras),
        "width": manifest["width"], "height": manifest["height"],
        "depth_video_encoding": f"8-bit inverse depth: 255 at {near:.4g} {depth['units']} "
                                f"(near), 0 at {far:.4g} and where nothing was hit",
        "near": near, "far": far})
    (out / "prompt.txt").write_text(prompt_stub(shot, record))


def prompt_stub(shot: Shot, record: dict[str, Any]) -> str:
    description = record["description"].strip() or "(the catalog has no description of it)"
    name = record["name"].replace("_", " ")
    lines = [
        f"# Prompt stub for {shot.name}: edit it, then give it to the video model with "
        "first_frame.png",
        f"# Set: {record['ref']} — {description}",
        f"# Camera: {describe(shot.path)}; {shot.lens.focal_mm:g} mm lens; "
        f"{shot.frame_count} frames at {shot.fps:g} fps ({shot.duration_s:.2f} s)",
    ]
    if shot.notes:
        lines.append(f"# Notes: {shot.notes}")
    lines += ["", f"Cinematic shot in {name}: {description.rstrip('.')}. "
                  f"The camera moves as in the reference ({describe(shot.path)}). "
                  "[Describe the characters and the action here.]", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- pixels
def depth_to_png16(depth: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.round(depth / scale), 0, 65535).astype(np.uint16)


def read_depth(path: Path, scale: float | None) -> np.ndarray:
    """A depth plate back in scene units (0 = nothing hit)."""
    if path.suffix == ".exr":
        import OpenEXR

        with OpenEXR.File(os.fspath(path)) as exr:
            return np.asarray(exr.channels()["Z"].pixels, np.float32)
    with open_image(path) as image:
        return np.asarray(image, np.float64) * float(scale)


def inverse_depth_image(depth: np.ndarray, near: float, far: float) -> np.ndarray:
    """8-bit inverse depth (near white, far and empty black), as depth-conditioned video
    models take it."""
    if not (near > 0 and far > near):
        return np.zeros(depth.shape, np.uint8)
    with np.errstate(divide="ignore"):
        inverse = np.where(depth > 0, 1.0 / np.maximum(depth, 1e-12), 0.0)
    value = (inverse - 1 / far) / (1 / near - 1 / far)
    return np.round(np.clip(np.where(depth > 0, value, 0.0), 0, 1) * 255).astype(np.uint8)


def _depth_scale(scene: GaussianScene, cameras: list) -> float:
    """One 16-bit depth step for the whole shot: no splat centre (and so no expected
    depth) is farther from any of its cameras than the farthest corner of the bounds."""
    low, high = scene.means.min(0).astype(np.float64), scene.means.max(0).astype(np.float64)
    corners = np.array([[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1])
                        for z in (low[2], high[2])])
    far = max(float(np.linalg.norm(corners - c.center, axis=1).max()) for c in cameras)
    return far / 65535 if far > 0 else 1.0


def _units(scene: GaussianScene) -> str:
    return "scene units (the set is unscaled)" if scene.meta.get("unscaled") else "metres"


# ----------------------------------------------------------------------------- files
def _png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    with atomic_write(path) as f:
        Image.fromarray(pixels).save(f, format="PNG", compress_level=1)


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or
                         (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise SetsplatError("exists and is not an earlier shot render",
                            "give --out a new or empty folder", out)



