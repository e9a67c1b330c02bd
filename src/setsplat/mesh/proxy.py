"""A light proxy mesh of a splat scene, for collision, layout and shadows.

Splat centres become a point cloud whose normals are each splat's shortest axis (the
surface normal of a flat splat), oriented towards the nearest capture camera when there
are cameras, and otherwise ``inward`` (towards the scene's centre: a set scanned from
inside), ``outward`` (an object scanned from around it) or by open3d's tangent-plane
``propagate`` (no assumption, but its time grows fast: small scenes only).
Poisson reconstruction builds a surface; vertices with little point support are trimmed
(unless ``watertight`` is asked for, which keeps the closed surface for collision);
quadric decimation brings it to the target triangle count; vertex colors come from the
splats' DC term. "Watertight" here means closed and manifold (every edge shared by
two triangles); the caps that close an open scan's rims may self-intersect, which
engines' complex collision tolerates. Needs the ``mesh`` extra (open3d).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError, StageFailed
from setsplat.core.frames import (
    YUP,
    Frame,
    convert_directions,
    convert_points,
    convert_scene,
    get_frame,
)
from setsplat.core.native import held_native_output
from setsplat.core.progress import progress
from setsplat.core.rotation import quat_to_matrix
from setsplat.core.scene import GaussianScene


@dataclass(frozen=True)
class MeshOptions:
    triangles: int = 20_000         # target triangle count after decimation
    depth: int = 9                  # Poisson octree depth (detail vs. time)
    trim: float = 0.05              # drop vertices in this lowest share of point density
    min_opacity: float = 0.2        # splats fainter than this do not shape the surface
    max_points: int = 200_000       # splat centres used at most (the most opaque kept)
    watertight: bool = False        # close the surface (collision)
    orientation: str = "inward"     # without cameras: inward, outward or propagate


@dataclass
class ProxyMesh:
    """Triangles in a frame: vertices (V, 3), faces (F, 3), colors (V, 3) 0..1, normals."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    normals: np.ndarray
    frame: Frame
    watertight: bool

    def in_frame(self, frame: Frame | str) -> ProxyMesh:
        """The same mesh in ``frame`` (a change of handedness reverses the winding, so
        the triangles still face the way their normals point)."""
        frame = get_frame(frame)
        faces = self.faces if frame.handedness == self.frame.handedness else self.faces[:, ::-1]
        return ProxyMesh(convert_points(self.vertices, self.frame, frame),
                         np.ascontiguousarray(faces), self.colors,
                         convert_directions(self.normals, self.frame, frame).astype(np.float32),
                         frame, self.watertight)


def import_open3d() -> Any:
    """open3d, with libusb-1.0 (which it links against) loaded from the libusb-package
    wheel when the system has none."""
    import ctypes

    try:
        import libusb_package

        ctypes.CDLL(str(libusb_package.get_library_path()), mode=ctypes.RTLD_GLOBAL)
    except (ImportError, OSError, TypeError):
        pass  # the system's libusb-1.0, if any, is then used
    try:
        import open3d
    except ImportError as exc:
        raise SetsplatError(f"the proxy mesh needs open3d ({exc})",
                            "install the mesh extra: pip install 'setsplat[mesh]'") from None
    open3d.utility.set_verbosity_level(open3d.utility.VerbosityLevel.Error)
    return open3d


def splat_normals(scene: GaussianScene) -> np.ndarray:
    """Each splat's shortest axis (unit, unoriented)."""
    rotations = quat_to_matrix(scene.quats.astype(np.float64))
    shortest = np.argmin(scene.log_scales, axis=1)
    return np.take_along_axis(rotations, shortest[:, None, None], axis=2)[..., 0]


def build_proxy(scene: GaussianScene, options: MeshOptions = MeshOptions(),
                cameras: Sequence[Camera] = ()) -> ProxyMesh:
    """Poisson proxy mesh of ``scene``, in the ``yup`` frame (metres if the scene is)."""
    with progress("proxy mesh", total=4) as advance:
        return _build(import_open3d(), scene, options, cameras, advance)


def _build(o3d: Any, scene: GaussianScene, options: MeshOptions, cameras: Sequence[Camera],
           advance: Any) -> ProxyMesh:
    scene = convert_scene(scene, YUP) if scene.frame != YUP else scene
    visible = scene.subset(scene.opacities >= options.min_opacity)
    if len(visible) > options.max_points:
        keep = np.argsort(-visible.opacities, kind="stable")[: options.max_points]
        visible = visible.subset(np.sort(keep))
    if len(visible) < 100:
        raise StageFailed(f"only {len(visible)} splats are opaque enough to build a mesh from",
                          "lower the opacity threshold or check the scene")
    points = visible.means.astype(np.float64)
    normals = splat_normals(visible)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    cloud.normals = o3d.utility.Vector3dVector(normals)
    cloud.colors = o3d.utility.Vector3dVector(visible.colors.astype(np.float64))
    if cameras or options.orientation != "propagate":
        cloud.normals = o3d.utility.Vector3dVector(_oriented(points, normals, cameras,
                                                             options.orientation))
    else:
        cloud.orient_normals_consistent_tangent_plane(12)
    advance(step="normals oriented")
    with held_native_output():  # PoissonRecon prints its numerical diagnostics itself
        mesh, densities = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
            cloud, depth=options.depth, n_threads=1)
    if not options.watertight and options.trim > 0:
        densities = np.asarray(densities)
        mesh.remove_vertices_by_mask(densities < np.quantile(densities, options.trim))
    advance(step="surface reconstructed")
    if len(mesh.triangles) > options.triangles:
        mesh = _decimated(mesh, options.triangles, options.depth)
    vertices, faces = cleaned(np.asarray(mesh.vertices), np.asarray(mesh.triangles))
    if options.watertight:
        vertices, faces = cap_holes(vertices, faces)
    if len(faces) == 0:
        raise StageFailed("Poisson reconstruction produced no triangles",
                          "the splats may not describe surfaces; check the scene")
    normals = vertex_normals(vertices, faces)
    advance(step="decimated")
    colors = _nearest_colors(o3d, cloud, vertices)
    advance(step="colored")
    final = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices),
                                      o3d.utility.Vector3iVector(faces))
    return ProxyMesh(vertices.astype(np.float32), faces.astype(np.uint32),
                     colors.astype(np.float32), normals.astype(np.float32), YUP,
                     bool(final.is_edge_manifold(allow_boundary_edges=False)
                          and final.is_vertex_manifold()))


def cleaned(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The triangles that bound something, and only the vertices they use.

    Decimation leaves degenerate triangles (a repeated corner, or no area) and, where
    Poisson wrapped a floater in a thin shell, back-to-back twins: two triangles over
    the same three corners, facing opposite ways. Their normals cancel, so their
    corners would get no normal at all; neither encloses anything, so both go (an
    exact repeat in the same winding keeps its first copy)."""
    faces = np.asarray(faces, np.int64)
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2])
                  & (faces[:, 2] != faces[:, 0])]
    start = np.argmin(faces, axis=1)[:, None]
    rolled = np.take_along_axis(faces, (start + np.arange(3)) % 3, axis=1)  # same winding
    _, first = np.unique(rolled, axis=0, return_index=True)
    faces = faces[np.sort(first)]
    _, inverse, counts = np.unique(np.sort(faces, axis=1), axis=0, return_inverse=True,
                                   return_counts=True)
    faces = faces[counts[inverse.reshape(-1)] == 1]
    corners = np.asarray(vertices, np.float64)[faces]
    doubled_area = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0],
                                           corners[:, 2] - corners[:, 0]), axis=1)
    faces = faces[doubled_area > 1e-12 * max(float(np.ptp(vertices, axis=0).max()), 1e-12) ** 2]
    used = np.unique(faces)
    index = np.full(len(vertices), -1, np.int64)
    index[used] = np.arange(len(used))
    return np.asarray(vertices)[used], index[faces]


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """A unit normal per vertex: the area-weighted mean of its triangles' normals, or
    where those cancel (a fold), the normal of its largest triangle."""
    corners = np.asarray(vertices, np.float64)[faces]
    weighted = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    sums = np.zeros((len(vertices), 3))
    for k in range(3):
        np.add.at(sums, faces[:, k], weighted)
    length = np.linalg.norm(sums, axis=1)
    areas = np.linalg.norm(weighted, axis=1)
    for vertex in np.flatnonzero(length <= 1e-9 * max(float(areas.max()), 1e-30)):
        around = np.flatnonzero((faces == vertex).any(axis=1))
        sums[vertex] = weighted[around[np.argmax(areas[around])]]
        length[vertex] = np.linalg.norm(sums[vertex])
    return sums / length[:, None]


def _decimated(mesh: Any, target: int, depth: int) -> Any:
    """Quadric decimation to ``target`` triangles. Poisson gives about a million on a
    set, which quadric decimation alone reduces slowly; vertex clustering first, to
    about 4x the target, makes it several times faster, and the surface moves
    little (median vertex distance to the full-resolution surface 1.4 cm instead of
    1.0 cm on the 8.4 m stage, where a Poisson cell is 1.6 cm)."""
    if len(mesh.triangles) > 8 * target:
        cell = float((mesh.get_max_bound() - mesh.get_min_bound()).max()) / 2 ** depth
        mesh = mesh.simplify_vertex_clustering(cell * math.sqrt(len(mesh.triangles)
                                                                / (4 * target)))
        mesh.remove_degenerate_triangles()
        mesh.remove_duplicated_triangles()
        mesh.remove_duplicated_vertices()
        mesh.remove_non_manifold_edges()  # else quadric decimation stops short
        mesh.remove_unreferenced_vertices()
    return mesh.simplify_quadric_decimation(target)


def _oriented(points: np.ndarray, normals: np.ndarray, cameras: Sequence[Camera],
              orientation: str) -> np.ndarray:
    """Normals flipped to face the nearest camera, or the scene centre (inward), or away
    from it (outward)."""
    if cameras:
        centres = convert_points(np.array([c.center for c in cameras]), cameras[0].frame, YUP)
        nearest = np.empty(len(points), np.int64)
        for start in range(0, len(points), 65536):  # bounded memory
            chunk = points[start:start + 65536]
            nearest[start:start + 65536] = np.argmin(
                ((chunk[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        towards = centres[nearest] - points
    elif orientation in ("inward", "outward"):
        towards = np.median(points, axis=0) - points
        towards = towards if orientation == "inward" else -towards
    else:
        raise SetsplatError(f"unknown normal orientation {orientation!r}",
                            "use inward, outward or propagate")
    flip = (normals * towards).sum(1) < 0
    return np.where(flip[:, None], -normals, normals)


def cap_holes(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Close every boundary loop with a fan of triangles around the loop's centroid.

    Poisson surfaces of an open scan end where they meet the reconstruction volume;
    capping those rims gives the closed mesh collision wants. Loops through a vertex
    that touches the boundary twice are left open (the mesh then reports it is not
    watertight)."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    _, inverse, counts = np.unique(np.sort(edges, axis=1), axis=0, return_inverse=True,
                                   return_counts=True)
    boundary = edges[counts[inverse.reshape(-1)] == 1]
    following = dict(zip(boundary[:, 0].tolist(), boundary[:, 1].tolist()))
    new_vertices, new_faces = [vertices], [faces]
    count = len(vertices)
    while following:
        start, current = following.popitem()
        loop = [start]
        while current != start and current in following:
            loop.append(current)
            current = following.pop(current)
        if current != start or len(loop) < 3:
            continue
        ring = np.array(loop)
        new_vertices.append(vertices[ring].mean(0)[None])
        # a boundary edge runs a -> b in its triangle; the cap must run b -> a
        new_faces.append(np.stack([np.roll(ring, -1), ring, np.full(len(ring), count)], 1))
        count += 1
    return np.concatenate(new_vertices), np.concatenate(new_faces)


def _nearest_colors(o3d: Any, cloud: Any, vertices: np.ndarray) -> np.ndarray:
    tree = o3d.geometry.KDTreeFlann(cloud)
    colors = np.asarray(cloud.colors)
    index = np.empty(len(vertices), np.int64)
    for i, vertex in enumerate(vertices):
        index[i] = tree.search_knn_vector_3d(vertex, 1)[1][0]
    return colors[index]
