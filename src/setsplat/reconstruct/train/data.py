"""Training views: undistorted images with their cameras (and masks), split into train and
held-out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.limits import inside, open_image


@dataclass
class View:
    camera: Camera
    image: np.ndarray  # (H, W, 3) float32 in 0..1, at the camera's size
    mask: np.ndarray | None = None  # (H, W) float32, 1 = use the pixel, 0 = masked out


@dataclass
class Views:
    train: list[View]
    held_out: list[View]

    @property
    def extent(self) -> float:
        """Radius of the camera centres around their mean, ×1.1 (3DGS's scene scale)."""
        centres = np.array([v.camera.center for v in self.train + self.held_out])
        return 1.1 * float(np.linalg.norm(centres - centres.mean(0), axis=1).max() or 1.0)


def split(names: list[str], every: int) -> tuple[list[int], list[int]]:
    """Indices of training and held-out images: every ``every``-th image (in name order)
    is held out, the usual 3DGS protocol; 0 holds nothing out."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    held = {order[i] for i in range(0, len(order), every)} if every else set()
    return [i for i in order if i not in held], [i for i in order if i in held]


def load_views(cameras: list[Camera], image_dir: Path, downscale: int, every: int,
               mask_dir: Path | None = None) -> Views:
    """Read every camera's image (``image_dir / camera.name``), shrunk by ``downscale``,
    and its mask (``mask_dir / <camera.name>.png``) where there is one."""
    views = []
    for camera in cameras:
        path = inside(image_dir, camera.name, "camera name", image_dir.parent / "cameras.json")
        view = _load_view(camera, path, downscale)
        mask = None if mask_dir is None else inside(mask_dir, f"{camera.name}.png", "mask name")
        if mask is not None and mask.is_file():
            view.mask = _load_mask(mask, camera, view.camera)
        views.append(view)
    if not views:
        raise SetsplatError("no cameras to train from", "run sfm first", image_dir)
    train, held = split([c.name for c in cameras], every)
    if not train:
        raise SetsplatError("every image would be held out", "use a larger --eval-every")
    return Views([views[i] for i in train], [views[i] for i in held])


def _load_mask(path: Path, camera: Camera, scaled: Camera) -> np.ndarray:
    """The kept share of each pixel at the training size (a pixel half masked counts half)."""
    from PIL import Image

    from setsplat.core.masks import read_mask

    keep = Image.fromarray(read_mask(path, (camera.width, camera.height)).astype(np.float32))
    if (scaled.width, scaled.height) != (camera.width, camera.height):
        keep = keep.resize((scaled.width, scaled.height), Image.Resampling.BOX)
    return np.asarray(keep, dtype=np.float32)


def _load_view(camera: Camera, path: Path, downscale: int) -> View:
    from PIL import Image

    try:
        with open_image(path) as image:
            if (image.width, image.height) != (camera.width, camera.height):
                raise SetsplatError(
                    f"image is {image.width}x{image.height} but its camera says "
                    f"{camera.width}x{camera.height}", "re-run sfm", path)
            image = image.convert("RGB")
            scaled = camera.scaled(1 / downscale) if downscale > 1 else camera
            if downscale > 1:
                image = image.resize((scaled.width, scaled.height), Image.Resampling.BOX)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise SetsplatError("training image is missing", "re-run sfm", path) from None
    except OSError as exc:
        raise SetsplatError(f"cannot read training image ({exc})", "re-run sfm",
                            path) from None
    return View(scaled, pixels)
