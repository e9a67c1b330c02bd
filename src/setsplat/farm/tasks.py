"""What runs on the farm's workers: a capture's stages, and the board they report to.

A capture runs as two tasks, one per kind of resource: the stages up to SfM on CPUs,
then training (and what follows it) on a GPU where the cluster has one, else on CPUs.
Both call ``pipeline.run``; the second finds the first's stages up to date by their
fingerprints, and a retried task resumes where the pipeline resumes (training from its
last checkpoint). A task returns a plain record; bad input comes back as a record with
its one-line error, anything else as an exception, which the driver retries.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from setsplat.core.errors import SetsplatError
from setsplat.pipeline import STAGES

GPU_STAGE = "train"
PHASES = (STAGES[:STAGES.index(GPU_STAGE)], STAGES[STAGES.index(GPU_STAGE):])
UPDATES_PER_SECOND = 2.0  # progress messages a task sends at most


@dataclass(frozen=True)
class Job:
    """One task: a capture's phase with what it needs to run anywhere in the cluster."""

    capture: str
    source: str
    out: str
    config: dict[str, Any]
    phase: int
    force: tuple[str, ...]
    attempt: int


class Board:
    """Where tasks post what they are doing; the driver reads it to draw progress.
    A Ray actor (made by ``board_actor``) that holds only small dictionaries."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    def post(self, capture: str, fields: dict[str, Any]) -> None:
        self.states.setdefault(capture, {}).update(fields)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return self.states


def run_job(job: Job, board: Any) -> dict[str, Any]:
    """Run one phase of a capture (inside a Ray worker); its stages' results, or
    ``{"error": line}`` for input the capture cannot be made from."""
    from setsplat.core.progress import set_quiet, set_sink
    from setsplat.pipeline import RunConfig, run

    _show_assigned_gpus()
    reporter = _Reporter(job, board)
    set_quiet(True)
    set_sink(reporter.progress)
    try:
        return {"stages": run(job.source, job.out, RunConfig(**job.config), job.force,
                              report=reporter.stage, until=PHASES[job.phase][-1])}
    except SetsplatError as exc:
        if exc.exit_code != 2:
            raise  # a stage failed on good input: worth another try
        return {"error": exc.line()}
    finally:
        set_sink(None)


def _show_assigned_gpus() -> None:
    """Let the task see only the GPUs Ray gave it, none for a CPU task: training's
    device "auto" then takes CUDA exactly when the task holds a GPU (Ray sets this for
    GPU tasks only)."""
    import ray

    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in ray.get_gpu_ids())


class _Reporter:
    """Posts a task's stage changes at once and its progress counts a few times a
    second, with an ETA from the current step's own pace."""

    def __init__(self, job: Job, board: Any) -> None:
        self.job, self.board = job, board
        self.sent = 0.0
        self.began: dict[str, tuple[float, float]] = {}
        self._post(pid=os.getpid(), host=socket.gethostname(), attempt=job.attempt,
                   phase=job.phase, stage=None, step=None, done=None, total=None, eta=None)

    def stage(self, name: str, status: str, details: dict[str, Any]) -> None:
        if status == "running":
            self._post(stage=name, step=None, done=None, total=None, eta=None)

    def progress(self, description: str, completed: float, total: float | None) -> None:
        now = time.monotonic()
        start = self.began.setdefault(description, (now, completed))
        finished = total is not None and completed >= total
        if now - self.sent < 1 / UPDATES_PER_SECOND and completed != start[1] and not finished:
            return
        self._post(step=description, done=completed, total=total,
                   eta=_eta(now - start[0], completed - start[1], completed, total))

    def _post(self, **fields: Any) -> None:
        self.sent = time.monotonic()
        self.board.post.remote(self.job.capture, fields)


def _eta(elapsed: float, progressed: float, completed: float,
         total: float | None) -> float | None:
    """Seconds left at the pace since this step (re)started; None until it has one."""
    if total is None or progressed <= 0 or elapsed <= 0:
        return None
    return max(0.0, (total - completed) * elapsed / progressed)
