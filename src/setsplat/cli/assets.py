"""setsplat assets: the versioned USD asset catalog."""

import click


@click.group()
def assets() -> None:
    """Publish scenes as versioned USD assets (splats, proxy mesh, preview LOD) in a
    library folder with a SQLite catalog; list, search, verify and load them.

    Coming: `publish`, `list`, `show`, `search`, `tag`, `deprecate`, `remove`, `verify`,
    `path`."""
