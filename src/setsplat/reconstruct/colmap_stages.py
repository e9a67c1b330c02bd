"""The pycolmap stages, run inside the child process that ``isolate`` starts.

Each job is a plain dict (JSON) and each function reports through ``emit``. Nothing
here is imported by the parent: pycolmap loads only in the child, after zlib.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.errors import SetsplatError, StageFailed
from setsplat.reconstruct import pairs as pairlib

Emit = Callable[..., None]
MIN_INLIERS = 15  # COLMAP's two-view minimum; a pair with fewer does not count as a match


def load_pycolmap():
    """pycolmap, loaded safely.

    pycolmap 4.2.1 bundles a zlib that clashes with Python's: if pycolmap loads first,
    the next zlib use (``zlib.compress``, a PNG written by Pillow or OpenCV) frees memory
    across the two and the process aborts. Loading Python's zlib first avoids it.
    """
    import zlib  # noqa: F401  (must precede pycolmap, see above)

    import pycolmap

    pycolmap.logging.minloglevel = 1  # warnings and errors go to the log file
    return pycolmap


class _Timer:
    """Wall and CPU seconds (all threads) of each stage: the machine may be shared, and
    CPU time is what stays comparable then."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.laps[f"{name}_s"] = round(wall - self._wall, 3)
        self.laps[f"{name}_cpu_s"] = round(cpu - self._cpu, 3)
        self._wall, self._cpu = wall, cpu


# ----------------------------------------------------------------------------- SfM
def reconstruct(job: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Features, pairs, matches and mapping; models are written largest first."""
    pycolmap = load_pycolmap()
    pycolmap.set_random_seed(job.get("seed", 0))
    database = Path(job["database"])
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    pycolmap.Database.open(database).close()
    timer = _Timer()
    first_octave = _extract(pycolmap, job, database, emit)
    timer.lap("extract")
    ids = _image_ids(pycolmap, database)
    names = [n for n in job["names"] if n in ids]
    matcher = _match(pycolmap, job, database, names, ids, emit)
    timer.lap("match")
    _share_cameras(pycolmap, job, database, ids)
    stats = _match_stats(pycolmap, database, ids)
    if not any(s["best_inliers"] >= MIN_INLIERS for s in stats.values()):
        raise StageFailed("no two photos match (no pair has enough common features)",
                          "the photos must overlap: take them 60-80% apart, of a textured "
                          "scene, in focus")
    models = _map(pycolmap, job, database, emit)
    timer.lap("map")
    models_dir = Path(job["models_dir"])
    written = []
    for index, rec in enumerate(models):
        folder = models_dir / str(index)
        folder.mkdir(parents=True, exist_ok=True)
        rec.write(folder)
        written.append({"folder": str(folder), "registered": rec.num_reg_images(),
                        "points": rec.num_points3D(),
                        "images": sorted(rec.images[i].name for i in rec.reg_image_ids())})
    return {"matcher": matcher["matcher"], "pairs": matcher["pairs"], "images": stats,
            "upsampled": first_octave < 0,
            "timings": timer.laps,
            "models": written, "missing": sorted(set(job["names"]) - set(ids))}


def _extract(pycolmap, job: dict[str, Any], database: Path, emit: Emit) -> int:
    """SIFT features for every image; returns the first octave used (-1: upsampled).

    Each image gets its own camera here (they are merged per group after matching):
    two images of one camera with no focal prior send COLMAP's verification down its
    shared-focal solver, which costs about ten times the fundamental-matrix path.
    """
    ex = job["extraction"]
    options = pycolmap.FeatureExtractionOptions()
    options.num_threads = job.get("threads", -1)
    options.max_image_size = ex["max_image_size"]
    options.sift.max_num_features = ex["max_num_features"]
    for key, value in ex["sift"].items():
        setattr(options.sift, key, value)
    total = len(job["names"])
    emit(stage="extract", total=total, label="Extracting features")
    options.sift.first_octave = _first_octave(pycolmap, job, options, database)
    done = 0
    for group in job["groups"]:
        reader = _reader(pycolmap, group, job.get("mask_path"))
        names = group["names"]
        step = max(8, -(-len(names) // 4))  # few calls: each one sets up its threads anew
        for start in range(0, len(names), step):
            chunk = names[start:start + step]
            pycolmap.extract_features(database, job["image_dir"], image_names=chunk,
                                      camera_mode=pycolmap.CameraMode.PER_IMAGE,
                                      reader_options=reader, extraction_options=options,
                                      device=pycolmap.Device.cpu)
            done += len(chunk)
            emit(stage="extract", done=done)
    return options.sift.first_octave


def _reader(pycolmap, group: dict[str, Any], mask_path: str | None):
    """Camera model and prior of a group; masks (``<image name>.png``, black = no
    features) from ``mask_path``, where a photo without one keeps every pixel."""
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = group["camera_model"]
    if group.get("camera_params"):
        reader.camera_params = group["camera_params"]
    if mask_path:
        reader.mask_path = mask_path
    return reader


def _first_octave(pycolmap, job: dict[str, Any], options, database: Path) -> int:
    """0 (full resolution), or -1 (upsample 2x) when small photos give few features.

    Upsampling finds the fine features of small photos (better poses on sparse, small
    objects) at four times the cost, so a few photos are probed first.
    """
    ex = job["extraction"]
    if not ex["probe"]:
        return 0
    names = job["names"]
    sample = [names[i] for i in np.linspace(0, len(names) - 1, min(3, len(names))).astype(int)]
    scratch = database.with_name("probe.db")
    scratch.unlink(missing_ok=True)
    pycolmap.Database.open(scratch).close()
    options.sift.first_octave = 0
    pycolmap.extract_features(scratch, job["image_dir"], image_names=sample,
                              camera_mode=pycolmap.CameraMode.PER_IMAGE,
                              reader_options=_reader(pycolmap, job["groups"][0],
                                                     job.get("mask_path")),
                              extraction_options=options, device=pycolmap.Device.cpu)
    with contextlib.closing(pycolmap.Database.open(scratch)) as db:
        counts = [db.num_keypoints_for_image(image.image_id) for image in db.read_all_images()]
    scratch.unlink(missing_ok=True)
    return -1 if np.median(counts or [0]) < ex["upsample_below_features"] else 0


def _share_cameras(pycolmap, job: dict[str, Any], database: Path,
                   ids: dict[str, int]) -> None:
    """Give each group of images one camera (and rig): the shared intrinsics SfM refines."""
    with contextlib.closing(pycolmap.Database.open(database)) as db:
        images = {image.image_id: image for image in db.read_all_images()}
        frames = {frame.frame_id: frame for frame in db.read_all_frames()}
        for group in job["groups"]:
            members = [images[ids[n]] for n in group["names"] if n in ids]
            if not members:
                continue
            camera_id = members[0].camera_id
            rig_id = frames[members[0].frame_id].rig_id
            sensor = pycolmap.sensor_t(pycolmap.SensorType.CAMERA, camera_id)
            for image in members[1:]:
                frame = frames[image.frame_id]
                frame.rig_id = rig_id
                frame.clear_data_ids()
                frame.add_data_id(pycolmap.data_t(sensor, image.image_id))
                db.update_frame(frame)  # the frame first: the image must be in it
                image.camera_id = camera_id
                db.update_image(image)


def _image_ids(pycolmap, database: Path) -> dict[str, int]:
    with contextlib.closing(pycolmap.Database.open(database)) as db:
        return {image.name: image.image_id for image in db.read_all_images()}


def _match(pycolmap, job: dict[str, Any], database: Path, names: list[str],
           ids: dict[str, int], emit: Emit) -> dict[str, Any]:
    matcher = pairlib.choose_matcher(names, job["matcher"], job.get("ordered", False))
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = job.get("threads", -1)
    verification = pycolmap.TwoViewGeometryOptions()
    if matcher == "spatial":
        with contextlib.closing(pycolmap.Database.open(database)) as db:
            if db.num_pose_priors() == 0:
                raise SetsplatError("spatial matching needs GPS positions, and the photos' "
                                    "EXIF has none", "use --matcher auto")
        emit(stage="match", total=None, label="Matching (spatial)")
        pycolmap.match_spatial(database, matching_options=matching,
                               verification_options=verification, device=pycolmap.Device.cpu)
        return {"matcher": matcher, "pairs": None}
    if matcher == "sequential":
        emit(stage="match", total=None, label="Matching (sequential)")
        pairing = pycolmap.SequentialPairingOptions(overlap=10, quadratic_overlap=False)
        pycolmap.match_sequential(database, matching_options=matching,
                                  pairing_options=pairing, verification_options=verification,
                                  device=pycolmap.Device.cpu)
        return {"matcher": matcher, "pairs": None}
    if matcher == "exhaustive":
        pairs = pairlib.exhaustive_pairs(len(names))
        _match_pairs(pycolmap, database, names, pairs, matching, verification, emit, matcher)
        return {"matcher": matcher, "pairs": len(pairs)}
    with contextlib.closing(pycolmap.Database.open(database)) as db:
        descriptors = [db.read_descriptors(ids[n]).data for n in names]
    ranking = pairlib.rank_similar(descriptors)
    neighbours = job.get("neighbours", pairlib.NEIGHBOURS)
    pairs = set(pairlib.nearest_pairs(ranking, neighbours))
    if matcher == "retrieval+sequential":
        pairs |= set(pairlib.sequential_pairs(len(names)))
    _match_pairs(pycolmap, database, names, sorted(pairs), matching, verification, emit,
                 matcher)
    # Second round: photos that found few partners try their next most similar photos.
    partners = _partners(pycolmap, database, ids)
    weak = [i for i, n in enumerate(names) if len(partners.get(n, ())) < pairlib.MIN_PARTNERS]
    extra = sorted(set(pairlib.nearest_pairs(ranking, 3 * neighbours, only=weak)) - pairs)
    if extra:
        _match_pairs(pycolmap, database, names, extra, matching, verification, emit,
                     f"{len(weak)} weakly matched photos")
    return {"matcher": matcher, "pairs": len(pairs) + len(extra)}


def _match_pairs(pycolmap, database: Path, names: list[str], pairs: list[tuple[int, int]],
                 matching, verification, emit: Emit, why: str) -> None:
    """Match and verify image pairs. Few large calls: each call indexes its images'
    descriptors afresh (FAISS k-means per image), so small calls repeat that work."""
    emit(stage="match", total=len(pairs), label=f"Matching {len(pairs)} pairs ({why})")
    pair_file = database.with_name("pairs.txt")
    step = max(2000, -(-len(pairs) // 10))
    for start in range(0, len(pairs), step):
        chunk = pairs[start:start + step]
        pair_file.write_text("".join(f"{names[i]} {names[j]}\n" for i, j in chunk))
        pairing = pycolmap.ImportedPairingOptions()
        pairing.match_list_path = str(pair_file)
        pycolmap.match_image_pairs(database, matching_options=matching, pairing_options=pairing,
                                   verification_options=verification,
                                   device=pycolmap.Device.cpu)
        emit(stage="match", done=start + len(chunk))


def _partners(pycolmap, database: Path, ids: dict[str, int]) -> dict[str, list[str]]:
    names = {image_id: name for name, image_id in ids.items()}
    partners: dict[str, list[str]] = {}
    with contextlib.closing(pycolmap.Database.open(database)) as db:
        pair_ids, geometries = db.read_two_view_geometries()
    for pair_id, geometry in zip(pair_ids, geometries):
        if len(geometry.inlier_matches) >= MIN_INLIERS:
            a, b = (names[i] for i in pycolmap.pair_id_to_image_pair(pair_id))
            partners.setdefault(a, []).append(b)
            partners.setdefault(b, []).append(a)
    return partners


def _match_stats(pycolmap, database: Path, ids: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per image: keypoints, the photos it matched (verified) and the best pair's inliers."""
    names = {image_id: name for name, image_id in ids.items()}
    stats: dict[str, dict[str, Any]] = {
        name: {"keypoints": 0, "partners": [], "best_inliers": 0} for name in ids}
    with contextlib.closing(pycolmap.Database.open(database)) as db:
        for image_id, name in names.items():
            stats[name]["keypoints"] = db.num_keypoints_for_image(image_id)
        pair_ids, geometries = db.read_two_view_geometries()
    for pair_id, geometry in zip(pair_ids, geometries):
        inliers = len(geometry.inlier_matches)
        pair = [names[i] for i in pycolmap.pair_id_to_image_pair(pair_id)]
        for name, other in (pair, pair[::-1]):
            stats[name]["best_inliers"] = max(stats[name]["best_inliers"], inliers)
            if inliers >= MIN_INLIERS:
                stats[name]["partners"].append(other)
    return stats


def _map(pycolmap, job: dict[str, Any], database: Path, emit: Emit) -> list:
    work = Path(job["models_dir"]).parent / "mapper"
    work.mkdir(parents=True, exist_ok=True)
    total = len(job["names"])
    if job["mapper"] == "global":
        emit(stage="map", total=None, label="Mapping (global)")
        options = pycolmap.GlobalPipelineOptions()
        options.random_seed = job.get("seed", 0)
        options.num_threads = job.get("threads", -1)
        options.mapper.global_positioning.use_gpu = False
        options.mapper.bundle_adjustment.ceres.use_gpu = False
        _fix_intrinsics_global(options, job)
        models = pycolmap.global_mapping(database, job["image_dir"], work, options)
    else:
        emit(stage="map", total=total, label="Mapping (incremental)")
        options = _incremental_options(pycolmap, job)
        registered = [0]

        def next_image() -> None:
            registered[0] += 1
            emit(stage="map", done=min(registered[0] + 1, total))

        models = pycolmap.incremental_mapping(database, job["image_dir"], work, options,
                                              next_image_callback=next_image)
    if not models:
        raise StageFailed("mapping found no starting pair of photos to build on",
                          "the photos overlap too little or look too alike everywhere "
                          "(blank walls, repeated patterns); add photos that overlap "
                          "60-80%")
    return sorted(models.values(), key=lambda r: -r.num_reg_images())


def _incremental_options(pycolmap, job: dict[str, Any]):
    options = pycolmap.IncrementalPipelineOptions()
    options.random_seed = job.get("seed", 0)
    options.num_threads = job.get("threads", -1)
    options.min_model_size = 3
    for key, value in job.get("mapper_options", {}).items():
        setattr(options, key, value)
    if job.get("fixed_intrinsics"):
        options.ba_refine_focal_length = False
        options.ba_refine_principal_point = False
        options.ba_refine_extra_params = False
        options.mapper.abs_pose_refine_focal_length = False
        options.mapper.abs_pose_refine_extra_params = False
    return options


def _fix_intrinsics_global(options, job: dict[str, Any]) -> None:
    if job.get("fixed_intrinsics"):
        ba = options.mapper.bundle_adjustment
        ba.refine_focal_length = False
        ba.refine_principal_point = False
        ba.refine_extra_params = False


# ----------------------------------------------------------------------------- undistort
def undistort(job: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Undistorted pinhole images and model, as COLMAP's image undistorter writes them."""
    pycolmap = load_pycolmap()
    emit(stage="undistort", total=None, label="Undistorting images")
    options = pycolmap.UndistortCameraOptions()
    pycolmap.undistort_images(job["output"], job["model"], job["image_dir"],
                              output_type="COLMAP", undistort_options=options,
                              num_threads=job.get("threads", -1))
    if job.get("masks"):
        _undistort_masks(pycolmap, job, Path(job["output"]))
    return {"output": job["output"]}


def _undistort_masks(pycolmap, job: dict[str, Any], out: Path) -> None:
    """Each mask warped as its photo was: every undistorted pixel takes the mask value at
    the distorted pixel it came from (nearest; outside the photo counts as masked).
    All-white masks (photos given none) are left out."""
    import cv2

    from setsplat.core.masks import read_mask, write_mask

    before = pycolmap.Reconstruction(job["model"])
    after = pycolmap.Reconstruction(str(out / "sparse"))
    sources = {image.name: before.cameras[image.camera_id] for image in before.images.values()}
    for image in after.images.values():
        path = Path(job["masks"]) / f"{image.name}.png"
        if not path.is_file():
            continue
        keep = read_mask(path).astype(np.uint8)
        if keep.all():
            continue
        camera = after.cameras[image.camera_id]
        rows, cols = np.mgrid[:camera.height, :camera.width].astype(np.float64) + 0.5
        rays = camera.cam_from_img(np.stack([cols.ravel(), rows.ravel()], 1))
        source = sources[image.name].img_from_cam(np.c_[rays, np.ones(len(rays))],
                                                  check_cheirality=False)
        grid = (source - 0.5).astype(np.float32).reshape(camera.height, camera.width, 2)
        warped = cv2.remap(keep, grid[..., 0], grid[..., 1], cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        write_mask(out / "masks" / f"{image.name}.png", warped > 0)

