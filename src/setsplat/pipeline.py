"""``setsplat run``: the whole flow, stage by stage, resumable.

Layout of a run folder::

    OUT/run.json      what ran, with which inputs, and when
    OUT/capture/      ingest + check (images, capture.json, qc.json, contact sheet)
    OUT/sfm/          poses, sparse points, undistorted images
    OUT/train/        scene.ply, metrics, previews, checkpoints
    OUT/publish.json  with ``publish``: the asset version made in the library
    OUT/export/T/     with ``exports``: each target's package, made from that version

A stage is skipped when its outputs are all there and its fingerprint — a hash of its
options and of the previous stage's fingerprint (the first stage: of the source files'
names, sizes and times) — is the one recorded when it last finished. So changing an
option or a source photo redoes that stage and everything after it; ``force`` does the
same on request. A stage that fails leaves the earlier ones intact; training resumes
from its last checkpoint when it is run again with the same fingerprint. Publishing and
exporting run only when asked for; a publish that is redone adds a new version (versions
are immutable), and the packages follow it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from setsplat.capture.ingest import IngestOptions
from setsplat.core.errors import SetsplatError, os_error
from setsplat.core.jsonio import write_json
from setsplat.core.settings import setting
from setsplat.core.threads import cpu_threads
from setsplat.export import TARGETS
from setsplat.reconstruct.sfm import MATCHERS, SfmOptions
from setsplat.reconstruct.train.config import TrainConfig

if TYPE_CHECKING:
    from setsplat.reconstruct.train import TrainObserver

STAGES = ("ingest", "check", "sfm", "train", "publish", "export")
PUBLISHED = "publish.json"


@dataclass
class RunConfig:
    """Everything a run depends on; saved into run.json."""

    max_size: int | None = setting(None, "Shrink photos to this long side at ingest.",
                                   metavar="PIXELS")
    frames: int = setting(150, "Frames picked from a video.")
    keep_all: bool = setting(False, "QC reports problems but culls nothing.")
    matcher: str = setting("auto", "Which photo pairs SfM matches.", choices=MATCHERS)
    marker_size: float | None = setting(
        None, "Side of the ArUco markers in the photos, in metres (metric scale).",
        metavar="METRES")
    masks: str | None = setting(
        None, "Folder of masks, one PNG per photo named like it (white = keep): SfM and "
        "training ignore the black pixels.", metavar="DIR")
    publish: str | None = setting(
        None, "Publish the trained scene as the next version of this asset in the library.",
        metavar="NAME")
    exports: tuple[str, ...] = setting(
        (), "Export the published version to these targets, comma-separated (e.g. "
        "unreal,unity,web), each into OUT/export/TARGET.", flag="--export", choices=TARGETS,
        metavar="TARGETS")
    library: str | None = setting(
        None, "Asset library folder for --publish (default: $SETSPLAT_LIBRARY or "
        "./setsplat-library).", metavar="FOLDER")
    # CPU threads each stage may use (None: all cores); how fast, not what comes out, so
    # it is in no stage's fingerprint. A farm task sets it to the cores it was given.
    threads: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        self.exports = tuple(dict.fromkeys(self.exports))
        # fail before the long work, with the stages' own checks
        IngestOptions(max_size=self.max_size, frames=self.frames,
                      masks=None if self.masks is None else Path(self.masks))
        SfmOptions(matcher=self.matcher, marker_size=self.marker_size).check()
        if self.publish is not None:
            from setsplat.assets.library import check_name

            check_name(self.publish)
        unknown = [t for t in self.exports if t not in TARGETS]
        if unknown:
            raise SetsplatError(f"unknown export target {', '.join(unknown)}",
                                f"use some of {', '.join(TARGETS)}")
        if self.exports and self.publish is None:
            raise SetsplatError("--export makes the packages from the published asset",
                                "add --publish NAME")


@dataclass
class Hooks:
    """Who else listens to a run, without being part of its fingerprint."""

    train_observers: tuple[TrainObserver, ...] = ()


@dataclass
class Stage:
    name: str
    outputs: Callable[[RunConfig], tuple[str, ...]]  # files that must exist (in the run folder)
    options: Callable[[RunConfig], Any]  # the part of the config this stage depends on
    # (src, out, config, resume, hooks)
    run: Callable[[Path, Path, RunConfig, bool, Hooks], dict[str, Any]]
    wanted: Callable[[RunConfig], bool] = lambda config: True


def _ingest(src: Path, out: Path, config: RunConfig, resume: bool,
            hooks: Hooks) -> dict[str, Any]:
    from setsplat.capture.ingest import IngestOptions, ingest

    masks = None if config.masks is None else Path(config.masks)
    result = ingest(src, out / "capture", IngestOptions(max_size=config.max_size,
                                                        frames=config.frames, overwrite=True,
                                                        masks=masks))
    return {"images": len(result.capture.images), "skipped": len(result.capture.skipped)}


def _check(src: Path, out: Path, config: RunConfig, resume: bool,
           hooks: Hooks) -> dict[str, Any]:
    from setsplat.capture.check import check_capture

    return check_capture(out / "capture", keep_all=config.keep_all).summary


def _sfm(src: Path, out: Path, config: RunConfig, resume: bool,
         hooks: Hooks) -> dict[str, Any]:
    from setsplat.reconstruct.sfm import SfmOptions, run_sfm

    report = run_sfm(out / "capture", out / "sfm",
                     SfmOptions(matcher=config.matcher, marker_size=config.marker_size,
                                threads=config.threads or -1))
    coverage = report.get("coverage") or {}
    return {"registered": report["registered"], "images": report["images"],
            "unscaled": report["scale"]["unscaled"],
            "reshoot": [run["where"] for run in coverage.get("reshoot", [])]}


def _train(src: Path, out: Path, config: RunConfig, resume: bool,
           hooks: Hooks) -> dict[str, Any]:
    from setsplat.reconstruct.train import train_capture
    from setsplat.reconstruct.train.checkpoint import find

    resume = resume and find(out / "train" / "checkpoints") is not None
    metrics = train_capture(out / "sfm", config.train, out / "train", resume=resume,
                            observers=hooks.train_observers)
    return {k: metrics.get(k) for k in ("psnr", "psnr_compensated", "ssim", "splats",
                                        "wall_seconds")}


def _publish(src: Path, out: Path, config: RunConfig, resume: bool,
             hooks: Hooks) -> dict[str, Any]:
    from setsplat.assets import Library, PublishOptions, publish

    library = Library.resolve(config.library)
    record = publish(out / "train", PublishOptions(name=config.publish,
                                                   description=f"setsplat run of {src.name}"),
                     library)
    published = {"ref": record["ref"], "library": str(library.root),
                 "interface": str(library.version_dir(record["name"], record["version"])
                                  / record["interface"]), "mesh": record["mesh"],
                 "warnings": record["warnings"]}
    write_json(out / PUBLISHED, published)
    return published


def _export(src: Path, out: Path, config: RunConfig, resume: bool,
            hooks: Hooks) -> dict[str, Any]:
    """Every package from the published version: the engines get the stage's own proxy
    mesh (no second Poisson run; none when the version holds a placeholder box, which
    the publish warned about) and the asset's name; the web package its page."""
    from setsplat.export import ExportOptions, export, load_source
    from setsplat.view.page import WebPage

    published = json.loads((out / PUBLISHED).read_text())
    scene, layer = load_source(published["ref"], published["library"])
    done = {}
    for target in config.exports:
        page = WebPage(published["ref"], published["library"]) if target == "web" else None
        result = export(target, scene, out / "export" / target,
                        ExportOptions(name=config.publish, asset_layer=layer,
                                      proxy=published["mesh"] == "proxy", page=page))
        done[target] = {"out": str(result.out), "files": len(result.files)}
    return done


PIPELINE = (
    Stage("ingest", lambda c: ("capture/capture.json",),
          lambda c: {"max_size": c.max_size, "frames": c.frames,
                     "masks": c.masks and source_fingerprint(Path(c.masks))}, _ingest),
    Stage("check", lambda c: ("capture/qc.json",), lambda c: {"keep_all": c.keep_all},
          _check),
    Stage("sfm", lambda c: ("sfm/cameras.json", "sfm/points.ply"),
          lambda c: {"matcher": c.matcher, "marker_size": c.marker_size}, _sfm),
    Stage("train", lambda c: ("train/scene.ply", "train/metrics.json"),
          lambda c: c.train.to_dict(), _train),
    Stage("publish", lambda c: (PUBLISHED,),
          lambda c: {"name": c.publish, "library": _library_root(c)}, _publish,
          wanted=lambda c: c.publish is not None),
    Stage("export", lambda c: tuple(f"export/{t}/manifest.json" for t in c.exports),
          lambda c: {"targets": list(c.exports)}, _export, wanted=lambda c: bool(c.exports)),
)


def _library_root(config: RunConfig) -> str:
    """The library a publish goes into, resolved now: a changed $SETSPLAT_LIBRARY is a
    changed input."""
    from setsplat.assets import Library

    return str(Library.resolve(config.library).root)


def source_fingerprint(src: Path) -> str:
    """Names, sizes and modification times of every file under ``src`` (or of ``src``)."""
    if not src.exists():
        raise SetsplatError("no such file or folder", "check the path", src)
    files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(src) if src.is_dir() else path.name}\0"
                      f"{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _fingerprint(previous: str, options: Any) -> str:
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()


class RunLog:
    """run.json: per stage, the fingerprint it started and finished with."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, Any] = {"stages": {}}
        if path.is_file():
            try:
                self.data = json.loads(path.read_text())
            except (OSError, ValueError):
                self.data = {"stages": {}}  # unreadable: redo everything, keep going

    def stage(self, name: str) -> dict[str, Any]:
        return self.data["stages"].setdefault(name, {})

    def save(self) -> None:
        write_json(self.path, self.data)


def run(src: str | Path, out: str | Path, config: RunConfig | None = None,
        force: tuple[str, ...] = (), report: Callable[[str, str, dict], None] | None = None,
        until: str | None = None, hooks: Hooks | None = None) -> dict[str, Any]:
    """Run every stage that is not up to date, up to and including ``until`` (default:
    all); return what each stage did. A farm runs the stages that need different
    resources as separate calls: a later call finds the earlier stages up to date.
    ``hooks`` (a live training view) do not change what is computed."""
    config = config or RunConfig()
    hooks = hooks or Hooks()
    src, out = Path(src), Path(out)
    unknown = sorted(set(force) - set(STAGES))
    if unknown:
        raise SetsplatError(f"unknown stage {', '.join(unknown)} for --force",
                            f"use one of {', '.join(STAGES)}")
    if until is not None and until not in STAGES:
        raise SetsplatError(f"unknown stage {until}", f"use one of {', '.join(STAGES)}")
    if src.resolve() == out.resolve() or src.resolve() in out.resolve().parents:
        raise SetsplatError("the output folder is inside the source",
                            "give --out a folder outside the photos", out)
    if out.exists() and not out.is_dir():
        raise SetsplatError("exists and is not a folder", "give --out a folder", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, out, "creating the run folder") from exc
    log = RunLog(out / "run.json")
    log.data["config"] = dataclasses.asdict(config)
    log.data["source"] = str(src.resolve())
    fingerprint = source_fingerprint(src)
    forcing = False
    results: dict[str, Any] = {}
    last = STAGES.index(until) if until else len(STAGES) - 1
    for stage in PIPELINE[:last + 1]:
        if not stage.wanted(config):
            continue
        fingerprint = _fingerprint(fingerprint, stage.options(config))
        entry = log.stage(stage.name)
        forcing = forcing or stage.name in force
        complete = all((out / name).is_file() for name in stage.outputs(config))
        if not forcing and complete and entry.get("finished") == fingerprint:
            results[stage.name] = {"status": "up to date", **entry.get("result", {})}
            if report:
                report(stage.name, "skipped", results[stage.name])
            continue
        # carry on an attempt with the same inputs; a redo (asked for, or after an earlier
        # stage was redone, whose outputs this stage's checkpoints never saw) starts afresh
        resume = not forcing and entry.get("started") == fingerprint
        forcing = True  # everything after a redone stage is redone too
        entry.update(started=fingerprint, finished=None)
        log.save()
        if report:
            report(stage.name, "running", {})
        began = time.perf_counter()
        with cpu_threads(config.threads):
            outcome = stage.run(src, out, config, resume, hooks)
        entry.update(finished=fingerprint, result=outcome,
                     seconds=round(time.perf_counter() - began, 2),
                     at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        log.save()
        results[stage.name] = {"status": "done", "seconds": entry["seconds"], **outcome}
        if report:
            report(stage.name, "done", results[stage.name])
    return results
