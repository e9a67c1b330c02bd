"""Fuzzing every reader we have (see ``check.py`` for the property and ``targets.py``
for the readers and how their inputs are damaged).

The suite runs a fixed-seed Hypothesis budget of ``SETSPLAT_FUZZ_EXAMPLES`` inputs per
reader (default below, about a minute in all); ``make fuzz`` runs the same damage from
seeded generators, 100,000 inputs per reader (``python -m tests.fuzz.run``).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.check import MAX_MEMORY, check
from tests.fuzz.mutate import HypothesisSource
from tests.fuzz.targets import TARGETS, Target

EXAMPLES = int(os.environ.get("SETSPLAT_FUZZ_EXAMPLES", "100"))


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_reader_reads_or_refuses(target: Target, monkeypatch):
    monkeypatch.setenv("SETSPLAT_MAX_MEMORY", MAX_MEMORY)

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        check(target, target.make(HypothesisSource(data.draw)))

    run()


# inputs `make fuzz` found (reader, seed of its seeded generator), replayed every run
FOUND = [("spz", 3680), ("spz", 86731), ("colmap-text", 47757), ("colmap-text", 52470)]


@pytest.mark.parametrize("name, seed", FOUND)
def test_what_make_fuzz_found_stays_fixed(name: str, seed: int, monkeypatch):
    import random

    from tests.fuzz.mutate import Source

    monkeypatch.setenv("SETSPLAT_MAX_MEMORY", MAX_MEMORY)
    target = next(t for t in TARGETS if t.name == name)
    assert check(target, target.make(Source(random.Random(f"{name}:{seed}")))) in (
        "read", "refused")
