"""``reconstruct train``: from a capture with SfM results to ``scene.ply`` and metrics."""

from __future__ import annotations

import json
import resource
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from setsplat.core.camera import read_camera_meta, read_cameras
from setsplat.core.errors import SetsplatError
from setsplat.core.io import ply
from setsplat.core.jsonio import write_json
from setsplat.reconstruct.train import checkpoint
from setsplat.reconstruct.train.config import TrainConfig
from setsplat.reconstruct.train.data import load_views
from setsplat.reconstruct.train.evaluate import evaluate, plot_curves
from setsplat.reconstruct.train.exposure import gains_from_offsets
from setsplat.reconstruct.train.floaters import remove_floaters
from setsplat.reconstruct.train.init import random_points, splats_from_points
from setsplat.reconstruct.train.observers import TrainObserver
from setsplat.reconstruct.train.trainer import Trainer


def sfm_folder(path: str | Path) -> Path:
    """The SfM results to train from: ``path`` itself or its ``sfm/`` (a capture)."""
    path = Path(path)
    for folder in (path, path / "sfm"):
        if (folder / "cameras.json").is_file():
            return folder
    raise SetsplatError("no SfM results (sfm/cameras.json)",
                        "run `setsplat reconstruct sfm` on it first", path)


def train_folder(capture: str | Path, out: str | Path | None = None) -> Path:
    """Where training writes: ``out``, or ``train/`` beside the sfm folder."""
    return Path(out) if out else sfm_folder(capture).parent / "train"


def resumable(out: str | Path) -> Path:
    """The checkpoint a run in ``out`` resumes from; a one-line error if there is none."""
    found = checkpoint.find(Path(out) / "checkpoints")
    if found is None:
        raise SetsplatError("nothing to resume: no checkpoint in checkpoints/",
                            "run it without --resume to start training", out)
    return found


def resume_config(out: str | Path, given: dict[str, Any], force: bool = False) -> TrainConfig:
    """The config a resumed run continues with: the one saved in ``out/config.json``.
    Options ``given`` (not None) that differ from it are refused unless ``force``, which
    applies them."""
    out = Path(out)
    resumable(out)
    saved = TrainConfig.load(out / "config.json")
    changed = {k: v for k, v in given.items()
               if v is not None and getattr(saved, k, v) != v}
    if changed and not force:
        listed = ", ".join(f"{k} {getattr(saved, k)!r} -> {v!r}" for k, v in changed.items())
        raise SetsplatError(f"--resume continues the saved config, but options differ "
                            f"({listed})", "drop those options, or add --force to change them",
                            out / "config.json")
    return TrainConfig(**{**saved.to_dict(), **changed})


def train_capture(capture: str | Path, config: TrainConfig, out: str | Path | None = None,
                  resume: bool = False, observers: Sequence[TrainObserver] = ()
                  ) -> dict[str, Any]:
    """Train a splat scene from SfM results (``capture/sfm`` or an sfm folder itself);
    write outputs to ``out`` (default: ``train/`` beside the sfm folder) and return the
    metrics. ``resume`` continues from the checkpoint there (there must be one);
    ``observers`` hear about every step (a live viewer, a dashboard)."""
    sfm = sfm_folder(capture)
    out = train_folder(capture, out)
    start = resumable(out) if resume else None
    image_dir, points_file = sfm / "images", sfm / "points.ply"
    cameras = read_cameras(sfm / "cameras.json")
    sfm_meta = _sfm_meta(sfm)
    views = load_views(cameras, image_dir, config.downscale, config.eval_every,
                       sfm / "masks")
    rng = np.random.default_rng(config.seed)
    points, colors = ply.read_points(points_file) if points_file.is_file() else (None, None)
    if config.init == "sfm" and points is not None and len(points):
        initial = splats_from_points(points, colors, config.sh_degree, config.init_opacity, rng)
    else:
        centres = np.array([c.center for c in cameras])
        low, high = centres.min(0), centres.max(0)
        pad = 0.5 * (high - low).max()
        xyz, rgb = random_points(low - pad, high + pad, config.init_random_count, rng)
        initial = splats_from_points(xyz, rgb, config.sh_degree, config.init_opacity, rng)
    initial = initial.replace(frame=cameras[0].frame)

    compensation = exposure_decision(config.exposure_compensation, sfm)
    offsets = compensation.pop("offsets")
    gains = (gains_from_offsets([v.camera.name for v in views.train], offsets)
             if compensation["enabled"] else None)
    trainer = Trainer(config, views, initial, gains)
    checkpoints = out / "checkpoints"
    if start is not None:
        trainer.load_checkpoint(start)
    config.save(out / "config.json")
    resumed_from = trainer.state.step
    state = trainer.train(checkpoints, observers)

    scene = trainer.scene()
    floaters = {"outside_bounds": 0, "unseen": 0, "grazed": 0}
    if config.remove_floaters:
        scene, floaters = remove_floaters(scene, points, [v.camera for v in views.train],
                                          config.floater_margin, config.graze_share)
    scene.meta.update(sfm_meta)
    scene.meta["antialiased"] = config.antialiased
    ply.write(out / "scene.ply", scene)
    metrics = evaluate(scene, views.held_out, out / "eval", config.backend,
                       compensate=compensation["enabled"])
    if trainer.colors is not None:
        compensation["train_transforms"] = dict(zip([v.camera.name for v in views.train],
                                                    trainer.colors.to_list()))
    metrics.update({
        "exposure_compensation": compensation,
        "splats": len(scene), "floaters_removed": floaters, "steps": state.step,
        "resumed_from_step": resumed_from,
        "wall_seconds": state.seconds, "device": str(trainer.device),
        "train_views": len(views.train), "held_out_views": len(views.held_out),
        "image_size": [views.train[0].camera.width, views.train[0].camera.height],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "final_train_psnr": float(np.mean(state.psnrs[-20:])) if state.psnrs else None,
    })
    write_json(out / "metrics.json", metrics)
    plot_curves(out / "loss.png", state.losses, state.psnrs)
    return metrics


def exposure_decision(mode: str, sfm: Path) -> dict[str, Any]:
    """Whether to learn a color transform per photo, why, and SfM's exposure offsets per
    photo (stops) to start from. ``auto`` follows SfM's verdict on whether the photos'
    exposure varies (``photometric`` in sfm_report.json; see reconstruct.photometric)."""
    try:
        found = json.loads((sfm / "sfm_report.json").read_text()).get("photometric") or {}
    except (OSError, ValueError):
        found = {}
    offsets = found.get("offsets_stops") or {}
    if mode != "auto":
        return {"enabled": mode == "on", "mode": mode, "reason": f"asked for ({mode})",
                "offsets": offsets}
    if found.get("varies"):
        why = f"the photos' exposure varies (spread {found['spread_stops']} stops R, G, B)"
        return {"enabled": True, "mode": mode, "reason": why, "offsets": offsets}
    why = ("the photos agree on exposure" if found.get("spread_stops") is not None else
           "SfM measured no exposure spread (imported poses or too few shared points)")
    return {"enabled": False, "mode": mode, "reason": why, "offsets": {}}


def _sfm_meta(sfm: Path) -> dict[str, Any]:
    """What later stages must know from SfM: is the scene at metric scale, upright?"""
    meta = read_camera_meta(sfm / "cameras.json")
    return {"unscaled": bool(meta.get("unscaled", True)),
            **({"upright": meta["upright"]} if "upright" in meta else {})}
