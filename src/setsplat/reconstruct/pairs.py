"""Which image pairs to match: the choice that decides how long SfM takes.

Exhaustive matching costs n²/2 pairs, most of them between photos that share nothing,
and those are the slowest to verify (RANSAC runs to its trial limit on pure outliers).
``rank_similar`` finds the photos that look alike with a small bag of visual words
built from the SIFT descriptors already extracted (no vocabulary file to download):
k-means words, tf-idf histograms, cosine similarity, then each image's nearest
neighbours. Ordered captures (video frames) add their sequential neighbours, and
photos that end up with few verified partners get a second, wider round.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np

EXHAUSTIVE_UP_TO = 10  # images; below this every pair is cheap enough
NEIGHBOURS = 6  # retrieval neighbours per image
SEQUENTIAL_OVERLAP = 3  # following photos matched in ordered captures
MIN_PARTNERS = 3  # photos verified with fewer partners get a second round of candidates


def exhaustive_pairs(n: int) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(n), 2))


def sequential_pairs(n: int, overlap: int = SEQUENTIAL_OVERLAP) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, min(n, i + overlap + 1))]


def looks_ordered(names: Sequence[str]) -> bool:
    """Frames of a video or a burst: one prefix and consecutive numbers."""
    if len(names) < 3:
        return False
    keys = [re.fullmatch(r"(.*?)(\d+)(\.\w+)?", name.rsplit("/", 1)[-1]) for name in names]
    if not all(keys) or len({(k.group(1), k.group(3)) for k in keys}) != 1:
        return False
    numbers = sorted(int(k.group(2)) for k in keys)
    gaps = np.diff(numbers)
    return bool(np.all(gaps > 0) and np.median(gaps) <= 2)


def vocabulary(descriptors: Sequence[np.ndarray], words: int = 256, sample: int = 20000,
               iterations: int = 4, seed: int = 0) -> np.ndarray:
    """k-means visual words (words, 128) from a sample of all images' descriptors."""
    rng = np.random.default_rng(seed)
    per_image = max(1, sample // max(len(descriptors), 1))
    pool = np.concatenate([d[rng.permutation(len(d))[:per_image]] for d in descriptors
                           if len(d)]).astype(np.float32)
    words = min(words, len(pool))
    centres = pool[rng.choice(len(pool), words, replace=False)].copy()
    for _ in range(iterations):
        labels = assign(pool, centres)
        counts = np.bincount(labels, minlength=words).astype(np.float32)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, pool)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres


def assign(descriptors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Nearest visual word of each descriptor (squared distance, one matrix product)."""
    d = np.asarray(descriptors, np.float32)
    return np.argmin((centres * centres).sum(1)[None] - 2 * d @ centres.T, axis=1)


def similarity(descriptors: Sequence[np.ndarray], words: int = 256) -> np.ndarray:
    """Cosine similarity (n, n) of the images' tf-idf word histograms."""
    centres = vocabulary(descriptors, words)
    hist = np.stack([np.bincount(assign(d, centres), minlength=len(centres)) if len(d)
                     else np.zeros(len(centres)) for d in descriptors]).astype(np.float64)
    idf = np.log(len(descriptors) / np.maximum((hist > 0).sum(0), 1))
    vectors = hist / np.maximum(hist.sum(1, keepdims=True), 1) * idf
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors @ vectors.T


def rank_similar(descriptors: Sequence[np.ndarray]) -> np.ndarray:
    """For each image, the other images from most to least similar (n, n-1)."""
    sim = similarity(descriptors)
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :-1]


def nearest_pairs(ranking: np.ndarray, neighbours: int,
                  only: Sequence[int] | None = None) -> list[tuple[int, int]]:
    """Pairs (i < j) of each image (or each of ``only``) with its nearest neighbours."""
    rows = range(len(ranking)) if only is None else only
    return sorted({(min(i, int(j)), max(i, int(j))) for i in rows
                   for j in ranking[i, :neighbours]})


def choose_matcher(names: Sequence[str], requested: str = "auto", ordered: bool = False
                   ) -> str:
    """``auto``: exhaustive for a handful of photos, else retrieval (+ sequential
    neighbours for video frames, or names that look like them)."""
    if requested != "auto":
        return requested
    if len(names) <= EXHAUSTIVE_UP_TO:
        return "exhaustive"
    return "retrieval+sequential" if ordered or looks_ordered(names) else "retrieval"
