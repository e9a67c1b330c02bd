"""Held-out evaluation (PSNR, SSIM), side-by-side previews and the loss curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from setsplat.core.fsutil import atomic_write
from setsplat.core.scene import GaussianScene
from setsplat.reconstruct.train.data import View
from setsplat.reconstruct.train.exposure import apply_color, fit_color
from setsplat.reconstruct.train.losses import psnr, ssim


def render_view(scene: GaussianScene, view: View, backend: str = "auto") -> np.ndarray:
    from setsplat.render import render_scene

    out = render_scene(scene, [view.camera], backend=backend)[0]
    return out.rgb[0].clamp(0, 1).cpu().numpy()


def evaluate(scene: GaussianScene, views: list[View], out_dir: Path | None,
             backend: str = "auto", compensate: bool = False) -> dict[str, Any]:
    """PSNR/SSIM of each held-out view (over the pixels its mask keeps) and their means;
    previews (truth | render) in ``out_dir`` when given. ``compensate`` adds the same
    after fitting each view's own color transform to it, the splats frozen
    (``psnr_compensated``, ``ssim_compensated``; see train.exposure)."""
    per_view = []
    for view in views:
        image = render_view(scene, view, backend)
        truth = torch.from_numpy(view.image)
        rendered = torch.from_numpy(image)
        weights = None if view.mask is None else torch.from_numpy(view.mask)
        scores = {"image": view.camera.name, "psnr": psnr(rendered, truth, weights),
                  "ssim": float(ssim(rendered, truth, weights=weights)),
                  "masked": view.mask is not None}
        if compensate:
            fitted = apply_color(rendered, fit_color(rendered, truth, weights)).clamp(0, 1)
            scores.update(psnr_compensated=psnr(fitted, truth, weights),
                          ssim_compensated=float(ssim(fitted, truth, weights=weights)))
        per_view.append(scores)
        if out_dir is not None:
            save_png(out_dir / f"{Path(view.camera.name).stem}.png",
                     np.concatenate([view.image, image], axis=1))
    summary: dict[str, Any] = {"views": per_view}
    for key in ("psnr", "ssim", "psnr_compensated", "ssim_compensated"):
        if per_view and key in per_view[0]:
            summary[key] = float(np.mean([v[key] for v in per_view]))
    return summary


def save_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    with atomic_write(path) as f:
        Image.fromarray(pixels).save(f, format="PNG")


def plot_curves(path: Path, losses: list[float], psnrs: list[float]) -> None:
    """Loss (left scale, log) and training PSNR (right) against step, drawn with Pillow."""
    from PIL import Image, ImageDraw

    width, height, pad = 800, 400, 50
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([pad, pad, width - pad, height - pad], outline="black")
    draw.text((pad, 15), "training loss (blue, log scale) and PSNR dB (orange) per step",
              fill="black")

    def series(values: list[float], color: str, log: bool, label_side: str) -> None:
        if len(values) < 2:
            return
        v = np.asarray(values, np.float64)
        window = max(1, len(v) // 200)
        v = np.convolve(v, np.ones(window) / window, mode="valid")
        v = np.log10(np.maximum(v, 1e-8)) if log else v
        low, high = float(v.min()), float(v.max())
        span = (high - low) or 1.0
        xs = pad + np.linspace(0, width - 2 * pad, len(v))
        ys = height - pad - (v - low) / span * (height - 2 * pad)
        draw.line(list(zip(xs.tolist(), ys.tolist())), fill=color, width=2)
        fmt = (lambda x: f"{10 ** x:.3g}") if log else (lambda x: f"{x:.1f}")
        x = 5 if label_side == "left" else width - pad + 5
        draw.text((x, pad - 5), fmt(high), fill=color)
        draw.text((x, height - pad - 5), fmt(low), fill=color)

    series(losses, "#1f5fbf", True, "left")
    series(psnrs, "#e07b00", False, "right")
    draw.text((pad, height - pad + 10), "step 0", fill="black")
    draw.text((width - pad - 60, height - pad + 10), f"step {len(losses)}", fill="black")
    with atomic_write(path) as f:
        canvas.save(f, format="PNG")
