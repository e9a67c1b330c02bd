"""Holding back what C++ libraries print on the process's file descriptors."""

from __future__ import annotations

import os

from setsplat.core.native import held_native_output


def test_native_output_is_held_and_handed_over(capfd):
    print("before", flush=True)
    with held_native_output() as lines:
        os.write(1, b"[WARNING] from C++ on stdout\n")
        os.write(2, b"bad average roots: 4\n")
    print("after", flush=True)
    assert lines == ["[WARNING] from C++ on stdout", "bad average roots: 4"]
    out, err = capfd.readouterr()
    assert out == "before\nafter\n" and err == ""


def test_only_the_given_descriptors_are_held(capfd):
    with held_native_output(2) as lines:
        os.write(1, b"kept\n")
        os.write(2, b"held\n")
    assert lines == ["held"]
    assert capfd.readouterr().out == "kept\n"
