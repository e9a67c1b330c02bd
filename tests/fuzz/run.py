"""``make fuzz``: N damaged inputs per reader from seeded generators; prints and saves
the counts (read / refused) and every finding with the seed that replays it.

    python -m tests.fuzz.run [--examples N] [--only NAME] [--report fuzz-report.json]

Replay a finding: ``python -m tests.fuzz.run --only NAME --replay SEED``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import time
import traceback

from tests.fuzz.check import MAX_MEMORY, check
from tests.fuzz.mutate import Source
from tests.fuzz.targets import TARGETS


def fuzz(target, examples: int, first_seed: int = 0) -> dict:
    counts = {"inputs": 0, "read": 0, "refused": 0, "findings": []}
    started = time.monotonic()
    for seed in range(first_seed, first_seed + examples):
        sample = target.make(Source(random.Random(f"{target.name}:{seed}")))
        try:
            counts[check(target, sample)] += 1
        except Exception as exc:
            counts["findings"].append({"seed": seed, "error": f"{type(exc).__name__}: {exc}"})
            if len(counts["findings"]) <= 3:
                traceback.print_exc()
        counts["inputs"] += 1
        if counts["inputs"] % 2_000 == 0:  # progress, should the run be stopped early
            print(f"{target.name}: {counts['inputs']} inputs, {counts['read']} read, "
                  f"{counts['refused']} refused, {len(counts['findings'])} findings, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
    counts["seconds"] = round(time.monotonic() - started, 1)
    return counts


def _fuzz_named(job: tuple[str, int]) -> tuple[str, dict]:
    name, examples = job
    os.environ["SETSPLAT_MAX_MEMORY"] = MAX_MEMORY
    return name, fuzz(next(t for t in TARGETS if t.name == name), examples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--only", action="append", help="reader name (repeatable)")
    parser.add_argument("--replay", type=int, help="run one seed, with its traceback")
    parser.add_argument("--report", default="fuzz-report.json")
    parser.add_argument("--jobs", type=int, default=1, help="readers fuzzed at once")
    args = parser.parse_args()
    os.environ["SETSPLAT_MAX_MEMORY"] = MAX_MEMORY
    chosen = [t for t in TARGETS if not args.only or t.name in args.only]
    if args.replay is not None:
        for target in chosen:
            print(target.name, check(target, target.make(
                Source(random.Random(f"{target.name}:{args.replay}")))))
        return
    report = {}
    pool = multiprocessing.get_context("spawn").Pool(args.jobs)
    jobs = [(t.name, args.examples) for t in chosen]
    try:
        for name, counts in pool.imap_unordered(_fuzz_named, jobs):
            report[name] = counts
            print(f"{name:16} {counts['inputs']:>8} inputs  {counts['read']:>8} read  "
                  f"{counts['refused']:>8} refused  {len(counts['findings']):>4} findings  "
                  f"{counts['seconds']:>8} s", flush=True)
            with open(args.report, "w") as f:
                json.dump(report, f, indent=1)
    finally:
        pool.close()  # workers end on their own (terminating them upsets pycolmap's logger)
        pool.join()
    if any(r["findings"] for r in report.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
