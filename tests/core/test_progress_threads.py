"""Progress that goes to a sink instead of a terminal, and thread pools held to a count."""

from __future__ import annotations

import os

import numba
import torch

from setsplat.core.progress import progress, set_sink, track
from setsplat.core.threads import cpu_threads


def test_a_sink_gets_every_count_instead_of_a_bar(capsys):
    seen = []
    set_sink(lambda description, done, total: seen.append((description, done, total)))
    try:
        with progress("training", total=5) as advance:
            advance(2, loss=0.5)
            advance()
        list(track(["a", "b"], "checking"))
    finally:
        set_sink(None)
    assert seen == [("training", 0.0, 5), ("training", 2.0, 5), ("training", 3.0, 5),
                    ("checking", 0.0, 2), ("checking", 1.0, 2), ("checking", 2.0, 2)]
    assert capsys.readouterr().err == ""  # no bar drawn


def test_cpu_threads_holds_the_pools_and_gives_them_back(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = (torch.get_num_threads(), numba.get_num_threads())
    with cpu_threads(1):
        assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
        assert os.environ["OMP_NUM_THREADS"] == "1"
    assert (torch.get_num_threads(), numba.get_num_threads()) == before
    assert "OMP_NUM_THREADS" not in os.environ
    with cpu_threads(None):
        assert (torch.get_num_threads(), numba.get_num_threads()) == before
