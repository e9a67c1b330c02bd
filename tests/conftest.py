"""Shared test helpers: random scenes with known content, and running the CLI."""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from setsplat.core.scene import GaussianScene

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def random_scene(n: int = 200, degree: int = 3, seed: int = 0, frame: str = "rdf",
                 spread: float = 2.0) -> GaussianScene:
    rng = np.random.default_rng(seed)
    quats = rng.normal(size=(n, 4))
    return GaussianScene(
        means=rng.uniform(-spread, spread, (n, 3)),
        quats=quats / np.linalg.norm(quats, axis=1, keepdims=True),
        log_scales=rng.uniform(-4, -1, (n, 3)),
        opacity_logits=rng.normal(size=n),
        sh=rng.normal(scale=0.5, size=(n, (degree + 1) ** 2, 3)),
        frame=frame,
    )


def assert_read_refused(path: Path, data: bytes, what: str) -> None:
    """Reading ``data`` saved as ``path`` raises a SetsplatError that mentions ``what``."""
    from setsplat.core.errors import SetsplatError
    from setsplat.core.io import read_scene

    path.write_bytes(data)
    with pytest.raises(SetsplatError, match=what):
        read_scene(path)


def ctrl_c_reaches_it() -> None:
    """``preexec_fn`` for a child the tests interrupt with SIGINT: a shell starts its
    background jobs with SIGINT ignored, children inherit that, and Python then never
    raises KeyboardInterrupt; the suite may itself run in the background (CI, nohup)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def scene_factory():
    return random_scene


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run ``setsplat ARGS`` in-process; returns exit code, stdout and stderr."""
    from setsplat.cli.main import run

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server (Debian's) for the session, on 127.0.0.1 in a temporary folder."""
    from tests.engines import PostgresServer

    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres, request) -> str:
    """A fresh database of its own for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return postgres.create_database(name)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` (and everything in it) made unwritable for this process: immutable for
    root, which may write anything else; without write permissions for anyone else."""
    import os
    import subprocess

    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "+i", str(folder)], check=True)
        try:
            yield folder
        finally:
            subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)
        return
    paths = [folder, *folder.rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        yield folder
    finally:
        for path in paths:
            path.chmod(path.stat().st_mode | 0o200)
