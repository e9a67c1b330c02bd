"""Ways to damage valid files the way hostile or broken ones are: byte-level (flips,
boundary integers in either byte order, cuts, inserts, deletions) and, for JSON and
YAML, structural (a node anywhere replaced by another value, or dropped).

Every choice comes from a ``Source``: Hypothesis's ``draw`` in the test suite (fixed
seed, shrinking), a seeded ``random.Random`` in ``make fuzz`` (the same damage, a
hundred times faster per input).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

# Integers at the edges readers get wrong, for every field width.
INTERESTING = {
    1: [0, 1, 0x7F, 0x80, 0xFF],
    2: [0, 1, 0x7FFF, 0x8000, 0xFFFF],
    4: [0, 1, 3, 16, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 28, 1 << 24],
    8: [0, 1, 1 << 31, 1 << 32, 1 << 60, (1 << 63) - 1, 1 << 63, (1 << 64) - 1],
}
# Values a hostile document puts where a number, a name or a path belongs.
HOSTILE_STRINGS = ["", "../../../../etc/passwd", "/etc/passwd", "/dev/zero", "..", ".",
                   "a/../../b", "data:", "data:x;base64", "nan", "inf", "-1", "1e400",
                   "\0", "C:\\x", "images/../../x.png", "%2e%2e/x", "𝔘nicode", "x" * 300]
HOSTILE_NUMBERS = [0, -1, 1, 2, 2**31, 2**63, 10**30, -(10**30), 0.5, -0.0, 1e308,
                   float("nan"), float("inf"), float("-inf")]
KEYS = ["frames", "file_path", "cameras", "keys", "images", "name", "width", "height",
        "uri", "byteLength", "count", "frame", "position"]


class Source:
    """Where the choices come from: a seeded ``random.Random``."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def binary(self, most: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(0, most))


class HypothesisSource(Source):
    """The same choices drawn from Hypothesis (so failures shrink and replay)."""

    def __init__(self, draw):
        from hypothesis import strategies as st

        self.draw, self.st = draw, st

    def integer(self, low: int, high: int) -> int:
        return self.draw(self.st.integers(low, high))

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.draw(self.st.integers(0, len(options) - 1))]

    def binary(self, most: int) -> bytes:
        return self.draw(self.st.binary(max_size=most))


def damaged_bytes(source: Source, seeds: Sequence[bytes]) -> bytes:
    data = bytearray(source.choice(seeds))
    for _ in range(source.integer(0, 6)):
        kind = source.choice(("flip", "set", "int", "int", "cut", "insert", "delete"))
        pos = source.integer(0, max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[pos] ^= 1 << source.integer(0, 7)
        elif kind == "set" and data:
            data[pos] = source.integer(0, 255)
        elif kind == "int":
            width = source.choice((1, 2, 4, 8))
            value = source.choice(INTERESTING[width]) if source.integer(0, 1) else \
                source.integer(0, 256**width - 1)
            data[pos:pos + width] = value.to_bytes(width, source.choice(("little", "big")))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = source.binary(24)
        elif kind == "delete":
            del data[pos:pos + source.integer(1, 64)]
    return bytes(data)


def json_value(source: Source, depth: int = 0) -> Any:
    kind = source.integer(0, 9 if depth < 3 else 6)
    if kind <= 1:
        return source.choice(HOSTILE_NUMBERS)
    if kind == 2:
        return source.integer(-10**6, 10**6)
    if kind == 3:
        return source.choice(HOSTILE_STRINGS)
    if kind == 4:
        return source.binary(8).decode("latin-1")
    if kind == 5:
        return source.choice((None, True, False))
    if kind == 6:
        return source.integer(-2**64, 2**64) / source.choice((1, 3, 1e-300))
    if kind <= 8:
        return [json_value(source, depth + 1) for _ in range(source.integer(0, 4))]
    return {source.choice(KEYS): json_value(source, depth + 1)
            for _ in range(source.integer(0, 4))}


def _nodes(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _nodes(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:8]):
            found += _nodes(child, (*path, index))
    return found


def _replaced(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: _replaced(document[head], rest, value)}
    copy = list(document)
    copy[head] = _replaced(copy[head], rest, value)
    return copy


def _dropped(document: Any, path: tuple) -> Any:
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if not isinstance(parent, dict):
        return document
    parent = {k: v for k, v in parent.items() if k != path[-1]}
    return _replaced(document, path[:-1], parent)


def damaged_document(source: Source, seeds: Sequence[Any]) -> Any:
    """A seed JSON document with one to three nodes replaced or dropped."""
    document = source.choice(seeds)
    for _ in range(source.integer(1, 3)):
        path = source.choice(_nodes(document))
        if path and source.integer(0, 2) == 0:
            document = _dropped(document, path)
        else:
            document = _replaced(document, path, json_value(source))
    return document


def dump(document: Any) -> bytes:
    """JSON as hostile writers make it: NaN and Infinity included."""
    return json.dumps(document, allow_nan=True, default=str).encode()
