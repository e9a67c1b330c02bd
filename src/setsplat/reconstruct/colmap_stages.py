"""The pycolmap stages, run inside the child process that ``isolate`` starts.

Each job is a plain dict (JSON) and each function reports through ``emit``. Nothing
here is imported by the parent: pycolmap loads only in the child, after zlib.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# ----------------------------------------------------------------------------- SfM
def reconstruct(job: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Features, pairs, matches and mapping; models are written largest first."""
    pycolmap = load_pycolmap()
    pycolmap.set_random_seed(job.get("seed", 0))
    database = Path(job["database"])
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    pycolmap.Database.open(database).close()
    _extract(pycolmap, job, database, emit)
    ids = _image_ids(pycolmap, database)
    names = [n for n in job["names"] if n in ids]
    matcher = _match(pycolmap, job, database, names, ids, emit)
    stats = _match_stats(pycolmap, database, ids)
    if not any(s["best_inliers"] >= MIN_INLIERS for s in stats.values()):
        raise StageFailed("no two photos match (no pair has enough common features)",
                          "the photos must overlap: take them 60-80% apart, of a textured "
                          "scene, in focus")
    models = _map(pycolmap, job, database, emit)
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
            "models": written, "missing": sorted(set(job["names"]) - set(ids))}


def _extract(pycolmap, job: dict[str, Any], database: Path, emit: Emit) -> None:
    ex = job["extraction"]
    options = pycolmap.FeatureExtractionOptions()
    options.num_threads = job.get("threads", -1)
    options.max_image_size = ex["max_image_size"]
    options.sift.max_num_features = ex["max_num_features"]
    options.sift.first_octave = ex["first_octave"]
    total = len(job["names"])
    emit(stage="extract", total=total, label="Extracting features")
    done = 0
    for group in job["groups"]:
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = group["camera_model"]
        if group.get("camera_params"):
            reader.camera_params = group["camera_params"]
        names = group["names"]
        # One camera per group: the first chunk creates it, later chunks reuse it.
        step = max(4, len(names) // 10)
        for start in range(0, len(names), step):
            chunk = names[start:start + step]
            if start:
                reader.existing_camera_id = _camera_of(pycolmap, database, names[0])
            pycolmap.extract_features(database, job["image_dir"], image_names=chunk,
                                      camera_mode=pycolmap.CameraMode.SINGLE,
                                      reader_options=reader, extraction_options=options,
                                      device=pycolmap.Device.cpu)
            done += len(chunk)
            emit(stage="extract", done=done)


def _camera_of(pycolmap, database: Path, name: str) -> int:
    with contextlib.closing(pycolmap.Database.open(database)) as db:
        image = db.read_image_with_name(name)
        if image is None:
            raise StageFailed(f"pycolmap could not read {name}",
                              "check that the photo opens in an image viewer")
        return image.camera_id


def _image_ids(pycolmap, database: Path) -> dict[str, int]:
    with contextlib.closing(pycolmap.Database.open(database)) as db:
        return {image.name: image.image_id for image in db.read_all_images()}


def _match(pycolmap, job: dict[str, Any], database: Path, names: list[str],
           ids: dict[str, int], emit: Emit) -> dict[str, Any]:
    matcher = pairlib.choose_matcher(names, job["matcher"])
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = job.get("threads", -1)
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.max_num_trials = job.get("ransac_max_trials", 10000)
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
        pairing = pycolmap.SequentialPairingOptions(overlap=job.get("overlap", 10),
                                                    quadratic_overlap=False)
        pycolmap.match_sequential(database, matching_options=matching,
                                  pairing_options=pairing, verification_options=verification,
                                  device=pycolmap.Device.cpu)
        return {"matcher": matcher, "pairs": None}
    pairs = _pairs(pycolmap, matcher, database, names, ids, job)
    emit(stage="match", total=len(pairs), label=f"Matching {len(pairs)} pairs ({matcher})")
    pair_file = database.with_name("pairs.txt")
    step = max(50, len(pairs) // 20)
    for start in range(0, len(pairs), step):
        chunk = pairs[start:start + step]
        pair_file.write_text("".join(f"{names[i]} {names[j]}\n" for i, j in chunk))
        pairing = pycolmap.ImportedPairingOptions()
        pairing.match_list_path = str(pair_file)
        pycolmap.match_image_pairs(database, matching_options=matching, pairing_options=pairing,
                                   verification_options=verification,
                                   device=pycolmap.Device.cpu)
        emit(stage="match", done=start + len(chunk))
    return {"matcher": matcher, "pairs": len(pairs)}


def _pairs(pycolmap, matcher: str, database: Path, names: list[str], ids: dict[str, int],
           job: dict[str, Any]) -> list[tuple[int, int]]:
    if matcher == "exhaustive":
        return pairlib.exhaustive_pairs(len(names))
    with contextlib.closing(pycolmap.Database.open(database)) as db:
        descriptors = [db.read_descriptors(ids[n]).data for n in names]
    chosen = set(pairlib.retrieval_pairs(descriptors, job.get("neighbours",
                                                               pairlib.NEIGHBOURS)))
    if matcher == "retrieval+sequential":
        chosen |= set(pairlib.sequential_pairs(len(names)))
    elif matcher != "retrieval":
        raise SetsplatError(f"unknown matcher {matcher!r}",
                            "use auto, exhaustive, sequential, spatial or retrieval")
    return sorted(chosen)


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
    return {"output": job["output"]}

