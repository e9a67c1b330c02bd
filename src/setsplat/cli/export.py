"""setsplat export: scenes to files and engine packages."""

import click


@click.group()
def export() -> None:
    """Export a scene or asset in the right frame and units: PLY, SPZ, .splat, glTF
    (KHR_gaussian_splatting), USD/USDZ, a proxy mesh, and Unreal / Unity / web packages.

    Coming: one subcommand per target."""
