"""Metric scale from ArUco markers of known size seen in the photos.

Each marker's four corners are found by OpenCV's aruco detector in every registered
photo, undistorted with that photo's camera, and triangulated with the SfM poses.
The marker's side in SfM units against its printed size gives the scale; the median
over markers resists a misdetection, and their spread says how far to trust it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError

DEFAULT_DICTIONARY = "4X4_50"
MIN_VIEWS = 2
MAX_REPROJECTION_PX = 2.0


@dataclass
class MarkerScale:
    scale: float | None  # metres per SfM unit (None: no usable marker)
    dictionary: str
    size_m: float
    markers: list[dict[str, Any]] = field(default_factory=list)  # per marker: id, views, side
    spread: float = float("nan")  # relative standard deviation of the per-marker scales

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "dictionary": self.dictionary, "size_m": self.size_m,
                "spread": None if np.isnan(self.spread) else self.spread,
                "markers": self.markers}


def aruco_dictionary(name: str):
    """OpenCV's predefined dictionary for names like ``4X4_50`` or ``DICT_APRILTAG_36h11``."""
    import cv2

    known = {n.upper(): n for n in dir(cv2.aruco) if n.startswith("DICT_")
             and isinstance(getattr(cv2.aruco, n), int)}
    key = name.upper() if name.upper().startswith("DICT_") else "DICT_" + name.upper()
    if key not in known:
        raise SetsplatError(f"unknown marker dictionary {name!r}",
                            f"use one of {', '.join(sorted(k[5:] for k in known))}")
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, known[key]))


def check_size(size_m: float) -> None:
    if not size_m > 0:
        raise SetsplatError(f"marker size must be positive, got {size_m}",
                            "give the printed side length in metres, e.g. --marker-size 0.15")


def detect(image_path: Path, dictionary) -> dict[int, np.ndarray]:
    """Marker id -> its 4 corners (4, 2) in pixels (our Camera's: centres at +0.5)."""
    import cv2

    gray = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise SetsplatError("cannot read the image", "check that it is a valid photo",
                            image_path)
    found: dict[int, np.ndarray] = {}
    # AprilTag's edge-fitting refinement showed no size bias on our test renders (the
    # sub-pixel corner finder shrank markers by ~2%) but misses some markers; the
    # sub-pixel pass fills those in.
    for method in (cv2.aruco.CORNER_REFINE_APRILTAG, cv2.aruco.CORNER_REFINE_SUBPIX):
        params = cv2.aruco.DetectorParameters()
        params.cornerRefinementMethod = method
        corners, ids, _ = cv2.aruco.ArucoDetector(dictionary, params).detectMarkers(gray)
        for marker_id, c in zip([] if ids is None else ids.ravel(), corners):
            # OpenCV puts pixel centres on integers; our cameras put them at +0.5.
            found.setdefault(int(marker_id), c.reshape(4, 2).astype(np.float64) + 0.5)
    return found


def normalized(camera: Camera, pixels: np.ndarray) -> np.ndarray:
    """Undistorted normalised image coordinates (x/z, y/z) of pixels."""
    import cv2

    pts = np.asarray(pixels, np.float64).reshape(-1, 1, 2)
    d = camera.distortion
    if camera.model in ("OPENCV_FISHEYE", "SIMPLE_RADIAL_FISHEYE", "RADIAL_FISHEYE"):
        coeffs = np.array([d.get("k1", 0.0), d.get("k2", 0.0), d.get("k3", 0.0),
                           d.get("k4", 0.0)])
        out = cv2.fisheye.undistortPoints(pts, camera.K, coeffs)
    else:
        coeffs = np.array([d.get(k, 0.0) for k in ("k1", "k2", "p1", "p2", "k3", "k4", "k5",
                                                    "k6")])
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)
        iterate = getattr(cv2, "undistortPointsIter", None)  # OpenCV 4; 5 takes criteria
        out = (iterate(pts, camera.K, coeffs, None, None, criteria) if iterate else
               cv2.undistortPoints(pts, camera.K, coeffs, criteria=criteria))
    return out.reshape(-1, 2)


def triangulate(cameras: Sequence[Camera], rays: Sequence[np.ndarray]) -> np.ndarray:
    """Linear (DLT) triangulation of one point from normalised coordinates in 2+ views."""
    rows = []
    for camera, (x, y) in zip(cameras, rays):
        p = camera.world_to_camera[:3]
        rows += [x * p[2] - p[0], y * p[2] - p[1]]
    _, _, vt = np.linalg.svd(np.array(rows))
    return vt[-1, :3] / vt[-1, 3]


def _reprojection_px(cameras: Sequence[Camera], rays: Sequence[np.ndarray],
                     point: np.ndarray) -> float:
    errors = []
    for camera, ray in zip(cameras, rays):
        cam = camera.rotation @ point + camera.translation
        if cam[2] <= 0:
            return float("inf")
        errors.append(camera.fx * np.linalg.norm(cam[:2] / cam[2] - ray))
    return float(max(errors))


def marker_scale(cameras: Sequence[Camera], image_paths: Sequence[Path], size_m: float,
                 dictionary: str = DEFAULT_DICTIONARY) -> MarkerScale:
    """Scale (metres per SfM unit) from markers of side ``size_m`` seen in 2+ photos."""
    check_size(size_m)
    aruco = aruco_dictionary(dictionary)
    seen: dict[int, list[tuple[Camera, np.ndarray]]] = defaultdict(list)
    for camera, path in zip(cameras, image_paths):
        for marker_id, corners in detect(path, aruco).items():
            seen[marker_id].append((camera, normalized(camera, corners)))
    result = MarkerScale(None, dictionary, size_m)
    per_marker = []
    for marker_id in sorted(seen):
        views = seen[marker_id]
        entry: dict[str, Any] = {"id": marker_id, "views": len(views)}
        result.markers.append(entry)
        if len(views) < MIN_VIEWS:
            entry["used"] = False
            entry["why"] = "seen in one photo only"
            continue
        cams = [v[0] for v in views]
        corners = []
        worst = 0.0
        for k in range(4):
            rays = [v[1][k] for v in views]
            corners.append(triangulate(cams, rays))
            worst = max(worst, _reprojection_px(cams, rays, corners[-1]))
        corners = np.array(corners)
        side = float(np.mean(np.linalg.norm(corners - np.roll(corners, -1, 0), axis=1)))
        entry.update(side_sfm=side, reprojection_px=worst)
        if worst > MAX_REPROJECTION_PX or not side > 0:
            entry["used"] = False
            entry["why"] = f"corners do not triangulate consistently ({worst:.1f} px)"
            continue
        entry["used"] = True
        per_marker.append(size_m / side)
    if per_marker:
        scales = np.array(per_marker)
        result.scale = float(np.median(scales))
        result.spread = float(scales.std() / scales.mean()) if len(scales) > 1 else 0.0
    return result
