"""setsplat reconstruct: camera poses and the splat scene."""

import click


@click.group()
def reconstruct() -> None:
    """Structure-from-motion with pycolmap (or import COLMAP / transforms.json poses),
    upright and metric scale, then Gaussian-splat training on CPU or CUDA.

    Coming: `sfm`, `train`."""
