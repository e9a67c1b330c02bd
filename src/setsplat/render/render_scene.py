"""Render a stored ``GaussianScene`` from ``Camera`` objects (thumbnails, plates, CLI)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from setsplat.core.camera import Camera
from setsplat.core.frames import convert_world_to_camera
from setsplat.core.scene import GaussianScene
from setsplat.render.api import rasterize
from setsplat.render.output import RenderOutput


def activated(scene: GaussianScene, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The scene's tensors as ``rasterize`` takes them (linear scales, opacities 0..1)."""
    t = scene.to_torch(device)
    return {"means": t["means"], "quats": t["quats"], "scales": torch.exp(t["log_scales"]),
            "opacities": torch.sigmoid(t["opacity_logits"]), "sh": t["sh"]}


def camera_matrices(camera: Camera, scene: GaussianScene) -> tuple[np.ndarray, np.ndarray]:
    """(world-to-camera, K) with the world in the scene's frame (and units)."""
    view = camera.world_to_camera
    if camera.frame != scene.frame:
        view = convert_world_to_camera(view, camera.frame, scene.frame)
    return view, camera.K


@torch.no_grad()
def render_scene(
    scene: GaussianScene,
    cameras: Sequence[Camera],
    *,
    sh_degree: int | None = None,
    background: Sequence[float] = (0.0, 0.0, 0.0),
    antialiased: bool | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    device: str | torch.device = "cpu",
    backend: str = "auto",
) -> list[RenderOutput]:
    """One output per camera (cameras may differ in size); pinhole only: lens distortion
    is not applied. ``antialiased`` defaults to the scene's ``meta['antialiased']``."""
    params = activated(scene, device)
    degree = scene.sh_degree if sh_degree is None else min(sh_degree, scene.sh_degree)
    aa = bool(scene.meta.get("antialiased", False)) if antialiased is None else antialiased
    bg = torch.tensor([list(background)], dtype=torch.float32, device=device)
    outputs = []
    for camera in cameras:
        view, k = camera_matrices(camera, scene)
        outputs.append(rasterize(
            params["means"], params["quats"], params["scales"], params["opacities"],
            params["sh"], torch.tensor(view[None], dtype=torch.float32, device=device),
            torch.tensor(k[None], dtype=torch.float32, device=device), camera.width,
            camera.height, sh_degree=degree, backgrounds=bg, near_plane=near_plane,
            far_plane=far_plane, antialiased=aa, backend=backend))
    return outputs
