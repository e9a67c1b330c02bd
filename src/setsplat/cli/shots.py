"""setsplat shots: camera moves, plates and AI clips in a scanned set."""

import click


@click.group()
def shots() -> None:
    """Camera paths through a set asset, rendered plates and depth for conditioning AI
    video models, USD shot stages, AI clips registered per shot, and OpenTimelineIO
    timelines.

    Coming: `new`, `list`, `show`, `render`, `add-clip`, `timeline`."""
