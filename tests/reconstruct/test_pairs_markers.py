"""Pair selection and ArUco scale, on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.reconstruct import markers, pairs


def test_pair_counts_and_order():
    assert len(pairs.exhaustive_pairs(10)) == 45
    assert pairs.sequential_pairs(6, 2) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4),
                                            (3, 4), (3, 5), (4, 5)]
    assert pairs.looks_ordered([f"frame_{i:05d}.jpg" for i in range(1, 40)])
    assert not pairs.looks_ordered(["kitchen.jpg", "hall.jpg", "door.jpg"])
    assert pairs.choose_matcher([f"IMG_{i}.JPG" for i in range(8)]) == "exhaustive"
    assert pairs.choose_matcher([f"{c}.jpg" for c in "abcdefghijklmnop"]) == "retrieval"
    assert pairs.choose_matcher([f"f{i:03d}.png" for i in range(30)]) == "retrieval+sequential"


def test_retrieval_pairs_find_the_overlapping_photos():
    """Photos of the same place share descriptors: 5 places x 4 photos each, plus noise."""
    rng = np.random.default_rng(0)
    places = [rng.integers(0, 256, (300, 128)).astype(np.uint8) for _ in range(5)]
    photos, place_of = [], []
    for p, descriptors in enumerate(places):
        for _ in range(4):
            keep = descriptors[rng.random(300) < 0.6]
            noisy = np.clip(keep + rng.normal(0, 4, keep.shape), 0, 255).astype(np.uint8)
            photos.append(np.vstack([noisy, rng.integers(0, 256, (80, 128)).astype(np.uint8)]))
            place_of.append(p)
    ranking = pairs.rank_similar(photos)
    chosen = pairs.nearest_pairs(ranking, 3)
    assert all(place_of[i] == place_of[j] for i, j in chosen)
    assert len(chosen) == 5 * 6  # every pair within each place, nothing else
    wider = pairs.nearest_pairs(ranking, 5, only=[0])
    assert len(wider) == 5 and sum(place_of[j] != 0 for _, j in wider) == 2


# ----------------------------------------------------------------------------- markers
def render_markers(camera: Camera, layout: dict[int, np.ndarray], supersample: int = 4):
    """A grey photo with each marker (id -> 4 world corners) warped in by homography,
    rendered at ``supersample`` times the size and averaged down like a sensor would."""
    import cv2

    final = camera
    camera = camera.scaled(supersample)
    dictionary = markers.aruco_dictionary("4X4_50")
    image = np.full((camera.height, camera.width), 128, np.uint8)
    for marker_id, corners in layout.items():
        tile = cv2.aruco.generateImageMarker(dictionary, marker_id, 200)
        tile = cv2.copyMakeBorder(tile, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
        src = np.array([[40, 40], [240, 40], [240, 240], [40, 240]], np.float32) - 0.5
        dst, _ = camera.project(corners)  # our pixels: centres at +0.5; OpenCV's at +0
        h = cv2.getPerspectiveTransform(src, (dst - 0.5).astype(np.float32))
        warped = cv2.warpPerspective(tile, h, (camera.width, camera.height),
                                     flags=cv2.INTER_LINEAR, borderValue=0)
        mask = cv2.warpPerspective(np.full_like(tile, 255), h,
                                   (camera.width, camera.height), borderValue=0)
        image[mask > 128] = warped[mask > 128]
    return cv2.resize(image, (final.width, final.height), interpolation=cv2.INTER_AREA)


def floor_layout(side: float) -> dict[int, np.ndarray]:
    """Three markers of ``side`` metres flat on the floor (y = 0, RDF: y down)."""
    layout = {}
    for marker_id, (x, z) in enumerate([(-0.6, 0.0), (0.5, 0.3), (0.0, -0.5)]):
        layout[marker_id] = np.array([[x, 0, z + side], [x + side, 0, z + side],
                                      [x + side, 0, z], [x, 0, z]], float)
    return layout


def test_marker_scale_recovers_metres(tmp_path):
    import cv2

    side, units = 0.2, 2.5  # markers 0.2 m; the "SfM" world is 2.5x smaller than metres
    layout = floor_layout(side)
    cameras, paths = [], []
    for i, angle in enumerate(np.linspace(-0.6, 0.6, 4)):
        eye = [2.0 * np.sin(angle), -1.5, -2.0 * np.cos(angle)]
        camera = Camera.look_at(eye, [0, 0, 0], width=640, height=480, fov_x_deg=50,
                                name=f"{i}.png")
        paths.append(tmp_path / camera.name)
        cv2.imwrite(str(paths[-1]), render_markers(camera, layout))
        sfm = Camera(camera.width, camera.height, camera.fx, camera.fy, camera.cx,
                     camera.cy, camera.world_to_camera.copy(), name=camera.name)
        sfm.world_to_camera[:3, 3] /= units
        cameras.append(sfm)
    found = markers.marker_scale(cameras, paths, side)
    assert [m["id"] for m in found.markers if m["used"]] == [0, 1, 2]
    assert found.scale == pytest.approx(units, rel=0.005)
    assert found.spread < 0.005


def test_normalized_undoes_distortion():
    camera = Camera(640, 480, 500, 500, 320, 240, model="OPENCV",
                    distortion={"k1": -0.2, "k2": 0.05, "p1": 0.001, "p2": -0.002})
    rng = np.random.default_rng(1)
    xy = rng.uniform(-0.5, 0.5, (20, 2))
    x, y = xy.T
    r2 = x * x + y * y
    radial = 1 - 0.2 * r2 + 0.05 * r2 * r2
    xd = x * radial + 2 * 0.001 * x * y + (-0.002) * (r2 + 2 * x * x)
    yd = y * radial + 0.001 * (r2 + 2 * y * y) + 2 * (-0.002) * x * y
    pixels = np.column_stack([500 * xd + 320, 500 * yd + 240])
    np.testing.assert_allclose(markers.normalized(camera, pixels), xy, atol=1e-8)


def test_unknown_dictionary_is_explained():
    with pytest.raises(SetsplatError, match="unknown marker dictionary 'nope'.*4X4_50"):
        markers.aruco_dictionary("nope")
