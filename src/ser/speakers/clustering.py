"""Which embeddings share a voice: average-linkage clustering on cosine distance, in numpy.

    >>> grouping = group_by_voice(embeddings)          # [n, 256] unit vectors from VoiceEncoder
    >>> grouping.labels, grouping.n_groups             # labels [n] in 0..n_groups-1
    (array([0, 0, 1, 0, 1]), 2)

Agglomerative clustering joins the two closest groups until the closest pair is farther apart
than `threshold`, the distance between two groups being the mean cosine distance (1 - dot
product) over all pairs of their members ("average linkage", as ``scipy.cluster.hierarchy``'s
``method="average"``, which the tests compare against). It runs on the nearest-neighbour chain
in numpy (O(n^2) memory and time), because scipy and scikit-learn are not prediction-time
dependencies of `ser`.

The default threshold prefers merging to splitting: two groups of clips of one speaker in
different emotions must stay one group, since a speaker's clips split by emotion would hide
exactly the emotion that speaker adaptation is meant to reveal. It was chosen on speakers of
the corpora in ``../shared`` and checked on others (docs/speakers.md, benchmarks/speakers.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ser.speakers.embedding import SpeakerError, VoiceEncoder, shared_encoder

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.4  # cosine distance; see the module docstring and docs/speakers.md


@dataclass(frozen=True)
class Grouping:
    """The result of `group_by_voice`.

    labels : [n] int64 group of each embedding, numbered 0, 1, ... in order of first appearance.
    n_groups : the number of groups in `labels`.
    n_found : how many groups the distance threshold gives (equal to n_groups unless a count
        was forced with ``n_groups=``).
    """

    labels: np.ndarray
    n_groups: int
    n_found: int


def cosine_distances(embeddings: np.ndarray) -> np.ndarray:
    """Pairwise ``1 - cos`` [n, n] (float64) of the rows of `embeddings` [n, d]."""
    unit = np.asarray(embeddings, dtype=np.float64)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    distances = 1.0 - unit @ unit.T
    np.fill_diagonal(distances, 0.0)
    return np.maximum(distances, 0.0)


def average_linkage(distances: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Merges of average-linkage clustering of a distance matrix [n, n], as rows ``(a, b, height)``
    [n - 1, 3], lowest first; `a` and `b` are item indices, one from each of the two groups joined.

    `weights` [n] (default all 1) counts each item as that many members (for example seconds of
    speech), so a long segment weighs more in the mean distance than a short one.
    """
    n = distances.shape[0]
    if n < 2:
        return np.zeros((0, 3))
    d = np.array(distances, dtype=np.float64)
    np.fill_diagonal(d, np.inf)
    size = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).copy()
    merges: list[tuple[int, int, float]] = []
    chain: list[int] = []
    alive = np.ones(n, dtype=bool)
    while alive.sum() > 1:
        if not chain:
            chain.append(int(np.flatnonzero(alive)[0]))
        a = chain[-1]
        b = int(np.argmin(d[a]))
        if len(chain) > 1 and d[a, chain[-2]] <= d[a, b]:
            b = chain[-2]  # ties go back down the chain, so it always ends in a reciprocal pair
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            merges.append((a, b, float(d[a, b])))
            keep, gone = min(a, b), max(a, b)
            row = (size[a] * d[a] + size[b] * d[b]) / (size[a] + size[b])
            size[keep] += size[gone]
            d[keep, :] = d[:, keep] = row
            d[gone, :] = d[:, gone] = np.inf
            d[keep, keep] = np.inf
            alive[gone] = False
        else:
            chain.append(b)
    order = sorted(range(len(merges)), key=lambda i: merges[i][2])  # stable: a child stays before its parent
    return np.asarray([merges[i] for i in order], dtype=np.float64)


def cut(merges: np.ndarray, n: int, n_merges: int) -> np.ndarray:
    """Labels [n] after the first `n_merges` rows of `merges`, numbered by first appearance."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b, _ in merges[:n_merges]:
        parent[root(int(a))] = root(int(b))
    roots = [root(i) for i in range(n)]
    first: dict[int, int] = {}
    return np.asarray([first.setdefault(r, len(first)) for r in roots], dtype=np.int64)


def group_by_voice(
    embeddings: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    n_groups: int | None = None,
    weights: np.ndarray | None = None,
) -> Grouping:
    """Group embeddings [n, d] by voice (see the module docstring).

    threshold : cosine distance in (0, 2); groups closer than this (mean over pairs) are joined.
    n_groups : if given, exactly this many groups (at most n) whatever the threshold says;
        `Grouping.n_found` still tells what the threshold alone would give.
    weights : [n] positive weights of the embeddings in the mean distances (default all 1).
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or embeddings.shape[0] == 0:
        raise SpeakerError(f"embeddings: expected a non-empty [n, dim] array, got shape {embeddings.shape}")
    if not np.isfinite(embeddings).all():
        raise SpeakerError("embeddings: hold NaN or infinite values")
    if not 0 < threshold < 2:
        raise SpeakerError(f"threshold: a cosine distance in (0, 2) is expected, got {threshold}")
    n = embeddings.shape[0]
    if n_groups is not None and not (isinstance(n_groups, (int, np.integer)) and n_groups >= 1):
        raise SpeakerError(f"n_groups: a positive whole number is expected, got {n_groups!r}")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (n,) or not (weights > 0).all():
            raise SpeakerError(f"weights: expected {n} positive values, got shape {weights.shape}")
    merges = average_linkage(cosine_distances(embeddings), weights)
    n_close = int(np.searchsorted(merges[:, 2], threshold, side="right")) if len(merges) else 0
    n_found = n - n_close
    wanted = n_found if n_groups is None else min(int(n_groups), n)
    if n_groups is not None and n_groups > n:
        logger.warning("asked for %d groups of %d embeddings: %d groups", n_groups, n, n)
    labels = cut(merges, n, n - wanted)
    return Grouping(labels=labels, n_groups=wanted, n_found=n_found)


def group_clips(
    signals: Sequence[np.ndarray],
    threshold: float = DEFAULT_THRESHOLD,
    n_groups: int | None = None,
    *,
    encoder: VoiceEncoder | None = None,
) -> Grouping:
    """Group clips by voice: `VoiceEncoder.embed_batch` of each clip, then `group_by_voice`.

    signals : 16 kHz mono float signals holding **speech only** (cut each clip to its speech
        regions first; a clip without speech has no voice to group and should be left out, as
        silence and noise embed as a "voice" of their own).
    encoder : default the shipped encoder, loaded once per process.
    """
    if len(signals) == 0:
        raise SpeakerError("signals: no clips to group")
    embeddings = (encoder or shared_encoder()).embed_batch(list(signals))
    return group_by_voice(embeddings, threshold, n_groups)
