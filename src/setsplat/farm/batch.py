"""``setsplat batch``: many captures, each one's ``run`` as Ray tasks.

The driver (this process) submits each capture's first task, then its second when the
first has landed, and keeps the others going whatever one capture does: a task that
raised, or whose worker or host died, is submitted again (``retries`` times per
capture) and resumes where the pipeline resumes; a capture whose input is bad is
reported with its one-line error at once, since another try would meet the same input.
Run folders (``out/<capture>``) must sit on storage every host sees.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from setsplat.assets.library import CATALOG_ENV, Library, check_name
from setsplat.core.errors import SetsplatError
from setsplat.pipeline import STAGES, RunConfig

from .cluster import Cluster, connect
from .tasks import PHASES, Board, Job, run_job

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class BatchOptions:
    address: str | None = None  # None: a local Ray in this process; "auto" or HOST:PORT
    retries: int = 1  # further tries of a capture whose task failed
    cpus_per_task: int = 1  # cores each task asks for, and the threads it may use
    local_cpus: int | None = None  # cores of the local Ray (None: all)
    dashboard: bool = False  # the local Ray's dashboard (needs ray[default])
    force: tuple[str, ...] = ()  # stages to redo, as `run --force`


@dataclass(frozen=True)
class CaptureSpec:
    name: str
    source: Path
    out: Path


@dataclass
class _Track:
    """The driver's record of one capture."""

    spec: CaptureSpec
    status: str = "queued"  # queued | running | done | up to date | failed
    attempts: int = 1
    failures: list[str] = field(default_factory=list)  # one line per failed try
    submitted: set[int] = field(default_factory=set)  # phases tried at least once
    stages: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    began: float = field(default_factory=time.monotonic)
    seconds: float | None = None

    def result(self) -> dict[str, Any]:
        return {"capture": self.spec.name, "source": str(self.spec.source),
                "out": str(self.spec.out), "status": self.status, "attempts": self.attempts,
                "error": self.error, "failures": self.failures, "seconds": self.seconds,
                "stages": self.stages}


def captures(sources: Sequence[str | Path], out: str | Path,
             list_file: str | Path | None = None) -> list[CaptureSpec]:
    """The captures named on the command line and in ``list_file`` (a path a line,
    ``#`` comments; relative paths from the list's folder), each with its run folder
    ``out/<name>``."""
    paths = [Path(s) for s in sources]
    if list_file is not None:
        paths += _read_list(Path(list_file))
    if not paths:
        raise SetsplatError("no captures given", "name capture folders, or give --list FILE")
    specs, seen = [], {}
    for path in paths:
        name = path.resolve().name
        if name in seen:
            raise SetsplatError(f"two captures are both named {name} ({seen[name]} and {path})",
                                "each needs its own run folder: rename one")
        seen[name] = path
        specs.append(CaptureSpec(name, path, Path(out) / name))
    return specs


def _read_list(path: Path) -> list[Path]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SetsplatError(f"cannot read the capture list ({exc})",
                            "give a text file with a capture folder a line", path) from None
    entries = [line.strip() for line in lines]
    return [path.parent / entry for entry in entries if entry and not entry.startswith("#")]


def batch(specs: Sequence[CaptureSpec], config: RunConfig | None = None,
          options: BatchOptions | None = None,
          on_progress: Callable[[list[dict[str, Any]]], None] | None = None,
          on_cluster: Callable[[Cluster], None] | None = None) -> dict[str, Any]:
    """Run every capture's stages on Ray; the summary lists each capture's result.

    ``on_cluster`` hears once what the batch runs on (address, cores, GPUs, dashboard);
    ``on_progress`` gets a row per capture twice a second (status, stage, the current
    step's count and ETA, the worker's host and pid)."""
    options = options or BatchOptions()
    unknown = sorted(set(options.force) - set(STAGES))
    if unknown:
        raise SetsplatError(f"unknown stage {', '.join(unknown)} for --force",
                            f"use one of {', '.join(STAGES)}")
    config = dataclasses.replace(config or RunConfig(), threads=options.cpus_per_task)
    config, env = _library_for_workers(config, specs)
    began = time.monotonic()
    with connect(options.address, cpus=options.local_cpus, dashboard=options.dashboard,
                 env=env) as cluster:
        if on_cluster:
            on_cluster(cluster)
        tracks = _Driver(cluster, config, options).run(specs, on_progress)
    results = [t.result() for t in tracks]
    return {"captures": results, "landed": sum(r["status"] != "failed" for r in results),
            "failed": sum(r["status"] == "failed" for r in results),
            "seconds": round(time.monotonic() - began, 2),
            "cluster": dataclasses.asdict(cluster)}


class _Driver:
    """Submits the tasks and reacts to each one that ends."""

    def __init__(self, cluster: Cluster, config: RunConfig, options: BatchOptions) -> None:
        import ray

        self.ray, self.options = ray, options
        self.config = dataclasses.asdict(config)
        self.board = ray.remote(num_cpus=0)(Board).remote()
        cpu = ray.remote(num_cpus=options.cpus_per_task, max_retries=0)(run_job)
        # a fresh process for each GPU task (max_calls=1): its device memory goes with it
        gpu = ray.remote(num_cpus=options.cpus_per_task, num_gpus=1, max_calls=1,
                         max_retries=0)(run_job)
        self.tasks = (cpu, gpu if cluster.gpus >= 1 else cpu)
        self.running: dict[Any, tuple[_Track, Job]] = {}

    def run(self, specs: Sequence[CaptureSpec],
            on_progress: Callable[[list[dict[str, Any]]], None] | None) -> list[_Track]:
        tracks = [_Track(spec) for spec in specs]
        for track in tracks:
            self._submit(track, phase=0)
        while self.running:
            ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running),
                                     timeout=POLL_SECONDS)
            for ref in ready:
                self._landed(ref, *self.running.pop(ref))
            if on_progress:
                on_progress(self._rows(tracks))
        return tracks

    def _submit(self, track: _Track, phase: int) -> None:
        """Submit a phase; only its first try redoes what --force asks (a retry resumes)."""
        first_try = phase not in track.submitted
        track.submitted.add(phase)
        config = {**self.config, "publish": _asset_name(self.config["publish"], track.spec)}
        job = Job(capture=track.spec.name, source=str(track.spec.source.absolute()),
                  out=str(track.spec.out.absolute()), config=config, phase=phase,
                  force=_force(self.options.force, phase) if first_try else (),
                  attempt=track.attempts)
        track.status = "running"
        self.running[self.tasks[phase].remote(job, self.board)] = (track, job)

    def _landed(self, ref: Any, track: _Track, job: Job) -> None:
        try:
            outcome = self.ray.get(ref)
        except Exception as exc:  # the task raised, or its worker or host died
            track.failures.append(_describe(exc))
            if len(track.failures) <= self.options.retries:
                track.attempts += 1
                self._submit(track, job.phase)
            else:
                self._finish(track, "failed", track.failures[-1])
            return
        if "error" in outcome:
            self._finish(track, "failed", outcome["error"])
            return
        track.stages.update(outcome["stages"])
        if job.phase + 1 < len(PHASES):
            self._submit(track, job.phase + 1)
            return
        fresh = all(s.get("status") == "up to date" for s in track.stages.values())
        self._finish(track, "up to date" if fresh else "done", None)

    @staticmethod
    def _finish(track: _Track, status: str, error: str | None) -> None:
        track.status, track.error = status, error
        track.seconds = round(time.monotonic() - track.began, 2)

    def _rows(self, tracks: list[_Track]) -> list[dict[str, Any]]:
        posted = self.ray.get(self.board.snapshot.remote())
        return [{**posted.get(t.spec.name, {}), "capture": t.spec.name, "status": t.status,
                 "attempts": t.attempts, "error": t.error} for t in tracks]


def _asset_name(publish: str | None, spec: CaptureSpec) -> str | None:
    """Each capture its own asset: ``--publish Set`` makes ``Set_<capture>``."""
    return None if publish is None else f"{publish}_{spec.name}"


def _library_for_workers(config: RunConfig, specs: Sequence[CaptureSpec]
                         ) -> tuple[RunConfig, dict[str, str]]:
    """The library as this host finds it (its folder made absolute, to be the same on
    shared storage; a PostgreSQL catalog handed on to the workers' environment), and
    every capture's asset name checked before any work starts."""
    if config.publish is None:
        return config, {}
    for spec in specs:
        check_name(_asset_name(config.publish, spec))
    library = Library.resolve(config.library)
    env = {CATALOG_ENV: library.catalog_url} if library.catalog_url else {}
    return dataclasses.replace(config, library=str(library.root)), env


def _force(force: tuple[str, ...], phase: int) -> tuple[str, ...]:
    """What a phase's first try redoes: the forced stages it runs, and for a later phase
    its first stage when anything before it was forced (it was redone, and a stage
    after a redone one is redone too)."""
    own = tuple(s for s in force if s in PHASES[phase])
    earlier = any(s in PHASES[p] for p in range(phase) for s in force)
    return (PHASES[phase][0],) if earlier and not own else own


def _describe(exc: BaseException) -> str:
    """One line for a task that did not return: its own error when it raised one."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, SetsplatError):
        return cause.line()
    if cause is not None:
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        return f"unexpected {type(cause).__name__}: {first}".rstrip(": ")
    name = type(exc).__name__
    if "Died" in name or "Crashed" in name or "Lost" in name:
        return f"its worker or host died ({name}); run the batch again to resume it"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    return f"{name}: {first}"
