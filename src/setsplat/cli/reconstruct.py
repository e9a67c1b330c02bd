"""setsplat reconstruct: camera poses and the splat scene."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit


@click.group()
def reconstruct() -> None:
    """Structure-from-motion with pycolmap (or import COLMAP / transforms.json poses),
    upright and metric scale, then Gaussian-splat training on CPU or CUDA."""


TRAIN_OPTIONS = (
    click.option("--config", "config_file", type=click.Path(path_type=Path),
                 help="Start from a saved training config.json; options here override it."),
    click.option("--steps", type=click.IntRange(1), help="Optimisation steps [3000]."),
    click.option("--resolution", "downscale", type=click.IntRange(1),
                 help="Train on images shrunk by this factor (2 = half size) [1]."),
    click.option("--eval-every", type=click.IntRange(0), help="Hold out every Nth image [8]."),
    click.option("--max-splats", type=click.IntRange(1), help="Splat budget [300000]."),
    click.option("--strategy", type=click.Choice(["default", "mcmc"]),
                 help="Densification: 3DGS default or MCMC [default]."),
    click.option("--sh-degree", type=click.IntRange(0, 3), help="Final SH degree [3]."),
    click.option("--init", type=click.Choice(["sfm", "random"]), help="Initial splats [sfm]."),
    click.option("--seed", type=int, help="Random seed [0]."),
    click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]),
                 help="Renderer [auto]."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Device [auto]."),
    click.option("--checkpoint-every", type=click.IntRange(1),
                 help="Steps between checkpoints [500]."),
)
TRAIN_KEYS = ("steps", "downscale", "eval_every", "max_splats", "strategy", "sh_degree", "init",
              "seed", "backend", "device", "checkpoint_every")


def train_options(command):
    """The training options, shared by `reconstruct train` and `run`."""
    for option in reversed(TRAIN_OPTIONS):
        command = option(command)
    return command


def train_config(options: dict[str, Any]):
    """A TrainConfig from ``--config`` and the options given (popped from ``options``)."""
    from setsplat.reconstruct.train import TrainConfig

    config_file = options.pop("config_file", None)
    given = {k: options.pop(k) for k in TRAIN_KEYS if k in options}
    if config_file:
        return TrainConfig.load(config_file, **given)
    return TrainConfig(**{k: v for k, v in given.items() if v is not None})


@reconstruct.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder [train/ beside the sfm folder].")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint.")
@train_options
def train(capture: Path, out: Path | None, resume: bool, **options: Any) -> None:
    """Train a Gaussian-splat scene from SfM results: CAPTURE is a capture folder with
    sfm/ inside, or an sfm folder."""
    from setsplat.reconstruct.train import train_capture

    metrics = train_capture(capture, train_config(options), out, resume=resume)
    emit(metrics, print_metrics)


def print_metrics(metrics: dict[str, Any]) -> None:
    out = console()
    held = (f"held-out PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f} "
            f"on {metrics['held_out_views']} views" if "psnr" in metrics
            else "no held-out views")
    removed = metrics["floaters_removed"]
    out.print(f"[bold]trained[/] {metrics['steps']} steps in {metrics['wall_seconds']:.0f} s "
              f"on {metrics['device']}: {metrics['splats']:,} splats; {held}; removed "
              f"{removed['outside_bounds']} splats outside the set and {removed['unseen']} "
              "no camera sees")
