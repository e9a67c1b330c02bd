"""Structure from motion: camera poses and sparse points from photos, or imported.

``run_sfm`` drives pycolmap (features, chosen pairs, matching, mapping) in a child
process, keeps the largest model, puts it upright and at metric scale when it can,
undistorts the photos to pinhole cameras for training and writes ``sfm/``::

    sfm/images/               undistorted photos (what training reads)
    sfm/sparse/0/             COLMAP model of them (PINHOLE cameras), binary
    sfm/masks/                with masks: <image name>.png, undistorted like the photos
    sfm/distorted/sparse/0/   the same poses with the fitted lens model
    sfm/distorted/database.db COLMAP's feature and match database
    sfm/distorted/masks/      with masks: what feature extraction read (COLMAP's names)
    sfm/cameras.json          our cameras (core.camera), world frame RDF, y down
    sfm/points.ply            sparse points: x y z red green blue
    sfm/transforms.json       the same cameras for nerfstudio / instant-ngp
    sfm/sfm_report.json       what happened, with numbers (whether the photos agree on
                              exposure: ``photometric``; what they cover: ``coverage``)
    sfm/coverage.png          the coverage map, top-down, with the places to reshoot
    sfm/colmap.log            pycolmap's log

``import_poses`` does the same from a COLMAP model or a ``transforms.json``. Nothing
is left half-written: everything is built beside ``sfm/`` and swapped in at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera, write_cameras
from setsplat.core.errors import SetsplatError, StageFailed, os_error
from setsplat.core.fsutil import staged_folder
from setsplat.core.jsonio import write_json
from setsplat.core.limits import inside
from setsplat.core.masks import read_mask
from setsplat.reconstruct import align
from setsplat.reconstruct.colmap_io import (
    ColmapModel,
    cameras_of,
    colmap_params,
    model_from_cameras,
    read_model,
    write_model,
)
from setsplat.reconstruct.inputs import CaptureImages, open_capture
from setsplat.reconstruct.isolate import run_isolated

REPORT_FILE = "sfm_report.json"
COVERAGE_PNG = "coverage.png"
LOG_FILE = "colmap.log"
MIN_REGISTERED = 3
FEW_KEYPOINTS = 100
COLMAP_STAGES_MODULE = "setsplat.reconstruct.colmap_stages"  # run in a child process


@dataclass
class Intrinsics:
    """Known camera intrinsics (pixels, centres at +0.5), held fixed during SfM."""

    fx: float
    fy: float
    cx: float
    cy: float
    model: str = "PINHOLE"
    distortion: dict[str, float] = field(default_factory=dict)


MATCHERS = ("auto", "exhaustive", "sequential", "spatial", "retrieval")
MAPPERS = ("incremental", "global")
CAMERA_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV",
                 "OPENCV_FISHEYE")


@dataclass
class SfmOptions:
    matcher: str = "auto"  # one of MATCHERS
    mapper: str = "incremental"  # one of MAPPERS
    camera_model: str = "SIMPLE_RADIAL"
    intrinsics: Intrinsics | None = None
    max_image_size: int = 2000  # long side for feature extraction (big photos shrink)
    max_num_features: int = 4096
    # Photos with a shorter long side are probed: if SIFT finds fewer than
    # ``upsample_below_features`` at full size, they are upsampled 2x for extraction.
    # 640x480 photos give about 1000: at 1000 the stage scan sat on the edge and, not
    # upsampled, its worst rotation error was 0.395° (pycolmap defaults: 0.045°).
    upsample_below: int = 1000
    upsample_below_features: int = 2000
    sift_options: dict[str, Any] = field(default_factory=dict)  # pycolmap SiftExtractionOptions
    neighbours: int = 6  # retrieval neighbours per photo
    upright: bool = True
    marker_size: float | None = None  # metres
    marker_dict: str = "4X4_50"
    distance: tuple[str, str, float] | None = None  # two photos and metres between them
    metric: bool = False  # the input's units are metres already (imports)
    undistort: bool = True
    masks: Path | None = None  # a folder of one PNG per photo (white = keep)
    timeout: float | None = None  # seconds per pycolmap stage; None: from the photo count
    threads: int = -1
    seed: int = 0
    mapper_options: dict[str, Any] = field(default_factory=lambda: {
        # Fewer global bundle adjustments while the model grows; the final one still runs.
        "ba_global_frames_ratio": 1.4, "ba_global_points_ratio": 1.4,
    })

    def check(self) -> None:
        """Refuse bad options before the long work, not after it."""
        if self.mapper not in MAPPERS:
            raise SetsplatError(f"unknown mapper {self.mapper!r}",
                                f"use one of {', '.join(MAPPERS)}")
        if self.matcher not in MATCHERS:
            raise SetsplatError(f"unknown matcher {self.matcher!r}",
                                f"use one of {', '.join(MATCHERS)}")
        if self.marker_size is not None:
            from setsplat.reconstruct.markers import aruco_dictionary, check_size

            check_size(self.marker_size)
            aruco_dictionary(self.marker_dict)
        if self.distance is not None and not self.distance[2] > 0:
            raise SetsplatError(f"--distance must be positive, got {self.distance[2]}",
                                "give the metres between the two photos' camera positions")


def parse_intrinsics(text: str) -> Intrinsics:
    """``fx,fy,cx,cy`` (pixels; COLMAP's convention, a centred principal point is
    width/2, height/2), or a JSON file with those keys (and
    optionally ``model`` and ``distortion``), or a cameras.json (its first camera)."""
    import json

    words = text.split(",")
    if len(words) == 4:
        try:
            return Intrinsics(*(float(w) for w in words))
        except ValueError:
            pass
    path = Path(text)
    if not path.is_file():
        raise SetsplatError(f"--intrinsics {text!r} is neither fx,fy,cx,cy nor a file",
                            "give four numbers like 1500,1500,960,540 or a JSON file")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SetsplatError(f"cannot read intrinsics ({exc})",
                            "give a JSON file with fx, fy, cx, cy", path) from None
    if isinstance(data, dict) and isinstance(data.get("cameras"), list) and data["cameras"]:
        data = data["cameras"][0]
    try:
        camera = Camera(int(data.get("width", 1)), int(data.get("height", 1)),
                        float(data["fx"]), float(data["fy"]), float(data["cx"]),
                        float(data["cy"]), model=data.get("model", "PINHOLE"),
                        distortion={k: float(v) for k, v in data.get("distortion", {}).items()})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SetsplatError(f"intrinsics file lacks fx, fy, cx or cy ({exc!r})",
                            "give a JSON file with fx, fy, cx, cy", path) from None
    except SetsplatError as exc:
        raise SetsplatError(exc.what, exc.hint, path) from None
    return Intrinsics(camera.fx, camera.fy, camera.cx, camera.cy, camera.model,
                      camera.distortion)


# ----------------------------------------------------------------------------- SfM
def run_sfm(capture: str | Path, out: str | Path, options: SfmOptions | None = None
            ) -> dict[str, Any]:
    """Photos -> ``out`` (see the module doc). Returns the report."""
    options = options or SfmOptions()
    options.check()
    images = open_capture(capture, options.masks)
    started = time.monotonic()
    with _staging(Path(out)) as (stage, log):
        job = _sfm_job(images, stage, options)
        if images.masks:
            job["mask_path"] = _colmap_masks(images, stage / "distorted" / "masks")
        timeout = options.timeout or 600 + 20 * len(images.names)
        result = _run_stage("reconstruct", job, log, timeout)
        main = result["models"][0]
        if main["registered"] < MIN_REGISTERED:
            raise StageFailed(f"only {main['registered']} photos could be placed together",
                              "SfM needs at least 3; add photos that overlap 60-80%")
        model = read_model(main["folder"])
        report = {
            "source": "sfm", "capture": str(images.source), "images": _image_count(images),
            "matcher": result["matcher"], "pairs": result["pairs"], "mapper": options.mapper,
            "upsampled": result["upsampled"],
            "camera_model": (f"{options.intrinsics.model} (fixed)" if options.intrinsics
                             else options.camera_model),
            "failed": _failures(images, result, set(main["images"])),
            "masks": len(images.masks),
            "other_models": [{"registered": m["registered"], "images": m["images"]}
                             for m in result["models"][1:]],
        }
        report["timings"] = {**result["timings"],
                             "poses_s": round(time.monotonic() - started, 3)}
        shutil.rmtree(stage / "work", ignore_errors=True)
        return _finish(model, images.image_dir, stage, options, report, log, timeout)


def _colmap_masks(images: CaptureImages, folder: Path) -> str:
    """Each photo's mask as COLMAP reads it (``<image name>.png``, 0 = no features), its
    size checked against the photo's. A photo without one gets an all-white mask: with a
    mask folder set, COLMAP refuses a photo whose mask is missing."""
    from setsplat.core.masks import write_mask

    for name in images.names:
        width, height = images.sizes[name]
        keep = (read_mask(images.masks[name], (width, height)) if name in images.masks
                else np.ones((height, width), bool))
        write_mask(folder / f"{name}.png", keep)
    return str(folder)


def _sfm_job(images: CaptureImages, stage: Path, options: SfmOptions) -> dict[str, Any]:
    groups = []
    for names in images.groups():
        width, height = images.sizes[names[0]]
        group: dict[str, Any] = {"names": names, "camera_model": options.camera_model}
        if options.intrinsics is not None:
            camera = Camera(width, height, options.intrinsics.fx, options.intrinsics.fy,
                            options.intrinsics.cx, options.intrinsics.cy,
                            model=options.intrinsics.model,
                            distortion=options.intrinsics.distortion)
            model, params = colmap_params(camera)
            group.update(camera_model=model, camera_params=_csv(params))
        elif names[0] in images.focal_priors:
            focal = float(np.median([images.focal_priors[n] for n in names]))
            probe = Camera(width, height, focal, focal, width / 2, height / 2,
                           model=options.camera_model)
            group["camera_params"] = _csv(colmap_params(probe)[1])
        groups.append(group)
    long_side = max(max(size) for size in images.sizes.values())
    return {
        "database": str(stage / "distorted" / "database.db"),
        "image_dir": str(images.image_dir), "names": images.names, "groups": groups,
        "models_dir": str(stage / "work" / "models"),
        "extraction": {"max_image_size": options.max_image_size,
                       "max_num_features": options.max_num_features,
                       "probe": long_side < options.upsample_below,
                       "sift": options.sift_options,
                       "upsample_below_features": options.upsample_below_features},
        "matcher": options.matcher, "ordered": images.ordered,
        "neighbours": options.neighbours,
        "mapper": options.mapper, "mapper_options": options.mapper_options,
        "fixed_intrinsics": options.intrinsics is not None,
        "threads": options.threads, "seed": options.seed,
    }


def _csv(values: np.ndarray) -> str:
    return ",".join(repr(float(v)) for v in values)


def _image_count(images: CaptureImages) -> int:
    return len(images.names) + len(images.unreadable)


def _failures(images: CaptureImages, result: dict[str, Any], placed: set[str]
              ) -> list[dict[str, str]]:
    """Every photo that is not in the kept model, with the likely reason."""
    failed = [{"name": n, "reason": why} for n, why in images.unreadable.items()]
    main_size = images.sizes[next(iter(placed))] if placed else None
    elsewhere = {name: m["registered"] for m in result["models"][1:] for name in m["images"]}
    for name in images.names:
        if name in placed:
            continue
        stats = result["images"].get(name)
        if name in result["missing"] or stats is None:
            reason = "pycolmap could not read it"
        elif stats["keypoints"] < FEW_KEYPOINTS:
            reason = (f"too few features ({stats['keypoints']}): blurred, dark, or a "
                      "blank surface")
        elif not stats["partners"]:
            reason = (f"matches no other photo (best pair: {stats['best_inliers']} common "
                      "features, 15 needed)")
        elif name in elsewhere:
            reason = (f"placed with {elsewhere[name] - 1} other photos in a separate group "
                      "that does not connect to the main one")
        elif not placed & set(stats["partners"]):
            count = len(stats["partners"])
            reason = (f"matches only {count} other photo{'s' * (count > 1)} that could not "
                      "be placed either: a part of the scene the others do not show")
        else:
            reason = (f"matches {len(placed & set(stats['partners']))} placed photos but its "
                      "pose could not be found (too few of those matches)")
        if main_size and images.sizes[name] != main_size:
            w, h = images.sizes[name]
            reason += f"; its size {w}x{h} differs from the main group's (another camera?)"
        failed.append({"name": name, "reason": reason})
    return failed


# ----------------------------------------------------------------------------- imports
def import_poses(source: str | Path, out: str | Path, images: str | Path | None = None,
                 options: SfmOptions | None = None) -> dict[str, Any]:
    """A COLMAP model folder or a ``transforms.json`` -> ``out``, like ``run_sfm``."""
    from setsplat.reconstruct.transforms_json import read_transforms

    options = options or SfmOptions()
    options.check()
    source = Path(source)
    if source.is_file() or source.suffix == ".json":
        cameras, paths = read_transforms(source, images)
        image_dir = Path(images) if images else _common_folder(paths, source)
        names = [str(p.relative_to(image_dir)) if p.is_relative_to(image_dir) else p.name
                 for p in paths]
        for camera, name in zip(cameras, names):
            camera.name = name
        model = model_from_cameras(cameras)
        kind = "transforms.json"
    else:
        model = read_model(source)
        image_dir = Path(images) if images else _images_beside(source)
        kind = "colmap"
    for image in model.images.values():  # names come from the file: keep them inside
        inside(image_dir, image.name, "image name", source)
        if os.path.isabs(image.name) or os.path.normpath(image.name).startswith(".."):
            raise SetsplatError(f"image name {image.name!r} climbs out of the image folder",
                                "name images relative to their folder", source)
    missing = [i.name for i in model.images.values() if not (image_dir / i.name).is_file()]
    if missing:
        raise SetsplatError(f"{len(missing)} of the model's {len(model.images)} images are "
                            f"not in {image_dir} (first: {missing[0]})",
                            "give the folder of the photos with --images", source)
    if len(model.images) < 1:
        raise SetsplatError("the model has no registered images", None, source)
    with _staging(Path(out)) as (stage, log):
        report = {"source": kind, "imported": str(source), "images": len(model.images),
                  "failed": [], "other_models": []}
        timeout = options.timeout or 600 + 20 * len(model.images)
        return _finish(model, image_dir, stage, options, report, log, timeout)


def _common_folder(paths: list[Path], source: Path) -> Path:
    parents = {p.parent for p in paths}
    return parents.pop() if len(parents) == 1 else source.parent


def _images_beside(model_dir: Path) -> Path:
    for candidate in (model_dir / "images", model_dir.parent / "images",
                      model_dir.parent.parent / "images", model_dir.parent.parent.parent
                      / "images"):
        if candidate.is_dir():
            return candidate
    raise SetsplatError("found no images/ folder beside the model",
                        "give the folder of the photos with --images", model_dir)


# ----------------------------------------------------------------------------- shared end
def _finish(model: ColmapModel, image_dir: Path, stage: Path, options: SfmOptions,
            report: dict[str, Any], log: Path, timeout: float) -> dict[str, Any]:
    """Upright, scale, undistort, write outputs and the report into ``stage``."""
    started = time.monotonic()
    cameras = cameras_of(model)
    report["registered"] = len(cameras)
    report["points"] = len(model.xyz)
    report["mean_track_length"] = round(model.mean_track_length, 3)
    error = model.mean_reprojection_error
    report["mean_reprojection_error_px"] = None if np.isnan(error) else round(error, 4)

    orient, report["upright"] = _orientation(model, cameras, options)
    model = model.transformed(orient.scale, orient.rotation, orient.translation)
    cameras = cameras_of(model)
    scale, report["scale"] = _scale(cameras, image_dir, options)
    model = model.transformed(scale, np.eye(3), np.zeros(3))
    meta = {"unscaled": report["scale"]["unscaled"], "frame": "rdf",
            "source": report["source"], "upright": report["upright"]["method"]}

    if model.tracks:
        from setsplat.reconstruct import photometric

        report["photometric"] = photometric.summary(
            photometric.exposure_offsets(model, image_dir))
        report["coverage"] = _coverage(model, not report["scale"]["unscaled"], stage)
    write_model(stage / "distorted" / "sparse" / "0", model)
    pinhole = _undistort(model, image_dir, stage, options, log, timeout)
    report["timings"] = {**report.get("timings", {}),
                         "finish_s": round(time.monotonic() - started, 3)}
    _write_outputs(pinhole, stage, meta)
    report["outputs"] = {"cameras": "cameras.json", "points": "points.ply",
                         "images": "images/", "colmap_model": "sparse/0/",
                         "transforms": "transforms.json"}
    report["meta"] = meta
    report["version"] = 1
    write_json(stage / REPORT_FILE, report)
    return report


def _coverage(model: ColmapModel, metric: bool, stage: Path) -> dict[str, Any]:
    """The coverage map (reconstruct.coverage) of the final model; coverage.png beside."""
    from setsplat.reconstruct.coverage import coverage_map, draw_coverage

    cameras = cameras_of(model)
    index = {camera.name: k for k, camera in enumerate(cameras)}
    names = {image_id: image.name for image_id, image in model.images.items()}
    observers = [np.array([index[names[int(i)]] for i in track[:, 0]]) for track in
                 model.tracks]
    coverage = coverage_map(cameras, model.xyz, observers, metric)
    draw_coverage(coverage, cameras, stage / COVERAGE_PNG)
    coverage["png"] = COVERAGE_PNG
    return coverage


def _orientation(model: ColmapModel, cameras: list[Camera], options: SfmOptions
                 ) -> tuple[align.Similarity, dict[str, Any]]:
    """Level the scene (floor down) and put the origin on the floor under the cameras."""
    if not options.upright:
        return align.Similarity(), {"method": "none"}
    centers = np.stack([c.center for c in cameras])
    up = align.camera_up(cameras)
    info: dict[str, Any] = {"method": "cameras"}
    floor = None
    if len(model.xyz) >= 50:
        spread = np.linalg.norm(model.xyz - np.median(model.xyz, 0), axis=1)
        floor = align.fit_floor(model.xyz, up, centers, 0.01 * float(np.percentile(spread,
                                                                                    90)))
    # A floor plane already faces up, is under the cameras and under 80% of the points;
    # a scan that mostly looks at walls may put only 5-10% of its points on it.
    if floor is not None and floor.inliers >= 50 and floor.inlier_share >= 0.05:
        tilt = float(np.degrees(np.arccos(np.clip(floor.normal @ up, -1, 1))))
        info = {"method": "floor", "floor_points": floor.inliers,
                "cameras_vs_floor_deg": round(tilt, 2)}
        up = floor.normal
    forward = cameras[0].rotation[2]
    rotation = align.level(up, forward)
    moved = centers @ rotation.T
    origin = moved.mean(0)
    if info["method"] == "floor":
        origin[1] = floor.offset  # levelled, the floor n·p + d = 0 is the plane y = d
    return align.Similarity(1.0, rotation, -origin), info


def _scale(cameras: list[Camera], image_dir: Path, options: SfmOptions
           ) -> tuple[float, dict[str, Any]]:
    """Metres per unit: from markers, a known distance, or trusted input; else 1."""
    if options.distance is not None:
        a, b, metres = options.distance
        by_name = {c.name: c for c in cameras}
        for name in (a, b):
            if name not in by_name:
                raise SetsplatError(f"--distance names {name!r}, which is not a placed photo",
                                    "give two photo names from the report's registered list")
        units = float(np.linalg.norm(by_name[a].center - by_name[b].center))
        if not metres > 0 or not units > 0:
            raise SetsplatError("--distance needs a positive distance between two different "
                                "camera positions", None)
        return metres / units, {"method": "distance", "unscaled": False,
                                "metres_per_unit": metres / units}
    if options.marker_size is not None:
        from setsplat.reconstruct.markers import marker_scale

        found = marker_scale(cameras, [image_dir / c.name for c in cameras],
                             options.marker_size, options.marker_dict)
        info = {"method": "markers", **found.to_dict()}
        if found.scale is None:
            info.update(method="none", unscaled=True,
                        why="no marker was seen in two or more placed photos")
            return 1.0, info
        return found.scale, {**info, "unscaled": False, "metres_per_unit": found.scale}
    if options.metric:
        return 1.0, {"method": "given", "unscaled": False, "metres_per_unit": 1.0}
    return 1.0, {"method": "none", "unscaled": True}


def _undistort(model: ColmapModel, image_dir: Path, stage: Path, options: SfmOptions,
               log: Path, timeout: float) -> ColmapModel:
    """Pinhole photos in ``stage/images`` and their model in ``stage/sparse/0``."""
    pinhole = all(cam.model in ("PINHOLE", "SIMPLE_PINHOLE") for cam in model.cameras.values())
    masks = stage / "distorted" / "masks"
    if pinhole or not options.undistort:
        for image in model.images.values():
            _copy(image_dir / image.name, stage / "images" / image.name)
            mask = masks / f"{image.name}.png"
            if mask.is_file() and not read_mask(mask).all():  # all white: given none
                _copy(mask, stage / "masks" / mask.name)
        write_model(stage / "sparse" / "0", model)
        return model
    out = stage / "undistorted"
    job = {"output": str(out), "model": str(stage / "distorted" / "sparse" / "0"),
           "image_dir": str(image_dir), "threads": options.threads,
           "masks": str(masks) if masks.is_dir() else None}
    _run_stage("undistort", job, log, timeout)
    os.replace(out / "images", stage / "images")
    if (out / "masks").is_dir():
        os.replace(out / "masks", stage / "masks")
    undistorted = read_model(out / "sparse")
    shutil.rmtree(out)
    write_model(stage / "sparse" / "0", undistorted)
    return undistorted


def _copy(src: Path, dst: Path) -> None:
    """A copy, never a hard link: editing the output must not edit the source photo."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(src, dst)
    except OSError as exc:
        raise os_error(exc, dst, "copying the photos") from exc


def _write_outputs(model: ColmapModel, stage: Path, meta: dict[str, Any]) -> None:
    from setsplat.core.io.ply import write_points
    from setsplat.reconstruct.transforms_json import write_transforms

    cameras = cameras_of(model)
    write_cameras(stage / "cameras.json", cameras, meta)
    write_points(stage / "points.ply", model.xyz, model.rgb)
    masks = {c.name: f"masks/{c.name}.png" for c in cameras
             if (stage / "masks" / f"{c.name}.png").is_file()}
    write_transforms(stage / "transforms.json", cameras, "images",
                     {"setsplat": meta}, masks)


@contextlib.contextmanager
def _staging(out: Path):
    """Yield (a fresh folder beside ``out``, the log path). The folder replaces ``out``
    only when the block succeeds; on failure the log stays beside ``out`` to read."""
    log = out.with_name(f"{out.name}.{LOG_FILE}")
    with staged_folder(out, doing="writing the SfM results") as stage:
        log.unlink(missing_ok=True)
        yield stage, log
        if log.exists():
            os.replace(log, stage / LOG_FILE)


@contextlib.contextmanager
def _progress_bars():
    """Yield an ``on_event`` that shows the child's stages as progress bars."""
    from setsplat.core.progress import progress

    with contextlib.ExitStack() as bars:
        state: dict[str, Any] = {"advance": None, "done": 0}

        def on_event(event: dict[str, Any]) -> None:
            if "label" in event:
                bars.close()
                state.update(done=0, advance=bars.enter_context(
                    progress(event["label"], event.get("total"))))
            elif "done" in event and state["advance"] is not None:
                state["advance"](event["done"] - state["done"])
                state["done"] = event["done"]

        yield on_event


def _run_stage(function: str, job: dict[str, Any], log: Path, timeout: float) -> Any:
    with _progress_bars() as on_event:
        return run_isolated(f"{COLMAP_STAGES_MODULE}:{function}", job, log_path=log,
                            timeout=timeout, on_event=on_event)
