"""Our CPU backend end to end: project, composite, assemble the outputs."""

from __future__ import annotations

from setsplat.render.conventions import TILE_SIZE
from setsplat.render.cpu.functions import ProjectGaussians, ProjectionSettings, RasterizeTiles
from setsplat.render.output import RenderOutput


def rasterize_cpu(means, quats, scales, opacities, colors, viewmats, Ks, width, height, *,
                  sh_degree, backgrounds, near_plane, far_plane, eps2d,
                  antialiased) -> RenderOutput:
    settings = ProjectionSettings(width, height, float(near_plane), float(far_plane),
                                  float(eps2d), bool(antialiased),
                                  -1 if sh_degree is None else int(sh_degree))
    sh = colors if sh_degree is not None else None
    means2d, conics, depths, opac, sh_rgb, radii = ProjectGaussians.apply(
        means, quats, scales, opacities, sh, viewmats, Ks, settings)
    cameras = viewmats.shape[0]
    if sh_degree is None:
        features = colors.to(means.dtype).expand(cameras, *colors.shape[-2:])
    else:
        features = sh_rgb
    if backgrounds is not None:
        backgrounds = backgrounds.to(means.dtype)
    rgb, alpha, depth, median = RasterizeTiles.apply(means2d, conics, features, opac, depths,
                                                     backgrounds, radii, width, height)
    info = {"means2d": means2d, "radii": radii, "depths": depths, "conics": conics,
            "opacities": opac, "width": width, "height": height, "n_cameras": cameras,
            "gaussian_ids": None, "camera_ids": None, "tile_size": TILE_SIZE}
    return RenderOutput(rgb, alpha, depth, median, info, backend="cpu")
