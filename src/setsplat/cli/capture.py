"""setsplat capture: photos and video in, a checked capture out."""

import click


@click.group()
def capture() -> None:
    """Ingest photos or a video into a capture folder, with a QC report (blur, exposure,
    near-duplicates, mixed cameras) before any compute is spent; make synthetic sample
    scans with known truth.

    Coming: `ingest`, `check`, `synth`."""
