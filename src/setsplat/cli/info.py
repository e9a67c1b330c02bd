"""setsplat info: what is in a scene file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--drop-invalid", is_flag=True,
              help="Skip splats with NaN/inf values instead of refusing the file.")
def info(file: Path, drop_invalid: bool) -> None:
    """Splat count, SH degree, bounds, frame, memory, opacity and scale statistics."""
    from setsplat.core.summary import describe_file

    emit(describe_file(file, drop_invalid=drop_invalid), _print)


def _vec(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def _print(data: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    frame = data["frame"]
    rows = [
        ("file", f"{data['file']}  [{data['format']}, {data['file_bytes'] / 1e6:.1f} MB]"),
        ("splats", f"{data['splats']:,}"),
        ("SH degree", str(data["sh_degree"])),
        ("frame", f"{frame['name']} ({frame['description']}); {frame['units']}"),
        ("memory", f"{data['memory_bytes'] / 1e6:.1f} MB"),
    ]
    if "bounds" in data:
        b = data["bounds"]
        rows += [("bounds", f"{_vec(b['min'])} .. {_vec(b['max'])}  size {_vec(b['size'])}"),
                 ("bounds 1–99%", f"{_vec(b['robust_min'])} .. {_vec(b['robust_max'])}")]
        up = data["up_guess"]
        if up["agrees"] is None:  # rooms have walls as dense as their floor
            guess = (f"no clear floor (best guess {up['axis']}, confidence "
                     f"{up['confidence']}); the frame says {up['frame_up']}")
        else:
            verdict = "agrees with the frame" if up["agrees"] else f"frame says {up['frame_up']}"
            guess = f"{up['axis']}  (confidence {up['confidence']}; {verdict})"
        rows.append(("up (guess)", guess))
        o, s = data["opacity"], data["scale"]
        rows += [
            ("opacity", f"min {o['min']:.3g}  median {o['median']:.3g}  max {o['max']:.3g}  "
                        f"({o['below_1_255']:.1%} invisible, < 1/255)"),
            ("scale (largest axis)", f"median {s['median']:.4g}  p99 {s['p99']:.4g}  "
                                     f"max {s['max']:.4g}"),
        ]
    if data["extras"]:
        rows.append(("extra properties", ", ".join(data["extras"])))
    if data["meta"]:
        rows.append(("meta", ", ".join(f"{k}={v}" for k, v in data["meta"].items())))
    for key, value in rows:
        table.add_row(key, value)
    console().print(table)
