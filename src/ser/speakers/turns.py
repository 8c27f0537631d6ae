"""Who spoke when: speech regions cut at speaker changes, and the pieces grouped by voice.

    >>> result = speaker_turns(signal, [(0.3, 4.1), (4.6, 9.0)])      # 16 kHz signal, seconds
    >>> result.turns
    [Turn(start_s=0.3, end_s=4.1, speaker='S1'), Turn(start_s=4.6, end_s=9.0, speaker='S2')]
    >>> result.n_speakers, result.n_found, result.warnings
    (2, 2, [])

How (all numpy and onnxruntime, `VoiceEncoder` + `group_by_voice`):

1. Each speech region is covered by windows of `window_s` (1.6 s, one partial of the encoder)
   every `hop_s` (0.4 s); a region shorter than a window is one window of what there is.
   Regions shorter than `min_embed_s` (0.4 s: a word or a breath) are not embedded at all.
2. Runs of up to 4 consecutive windows of a region (about 2.8 s) are averaged into units, and
   the units grouped with average linkage (distance `threshold`, weighted by seconds). The
   groups hold one voice each but often several groups per voice (one per clip or mood of a
   speaker), plus small groups that straddle a change of speaker.
3. Voices. With ``n_speakers="auto"`` the centres (mean window embeddings) of the groups
   holding at least `min_speaker_s` of speech are refined by spherical k-means over all windows,
   and centres closer than `merge_distance` (cosine distance) are joined until none is: that
   sets the number of voices, preferring one voice too few to one too many. With an integer,
   k-means runs from several cuts of the unit tree (the largest groups at a few thresholds, or
   the tree cut into n to n + 3 groups) and the start whose voices fit the windows best is kept;
   `SpeakerTurns.n_found` and a warning tell when the automatic count differs.
4. Every 10 ms of speech takes the voice whose centre is most similar to the mean embedding of
   the windows covering it, so a change of speaker inside a region (a gap too short for the
   detector) is placed within about `hop_s`. Runs shorter than `min_turn_s` (0.5 s) inside a
   region go to the neighbour they resemble more.
5. Regions too short to embed take the voice of the nearest speech in time.

Limits (docs/speakers.md): speech over speech is given to one voice; music and noise inside a
"speech" region are given to whichever voice they resemble most (use a speech detector that
excludes them); a turn shorter than a window is judged on zero-padded audio, less reliably.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from ser.speakers.clustering import average_linkage, cosine_distances, cut
from ser.speakers.embedding import (
    SAMPLE_RATE,
    SpeakerError,
    VoiceEncoder,
    WindowPlan,
    check_signal,
    normalize_volume,
    shared_encoder,
    unit_rows,
)

logger = logging.getLogger(__name__)

CELL_S = 0.01
TURN_THRESHOLD = 0.4  # average-linkage distance of the first grouping of windows; see docs/speakers.md
UNIT_WINDOWS = 4  # consecutive windows averaged into one unit of the first grouping (~2.8 s)
MAX_UNITS = 2000  # at most this many units (a 16 MB distance matrix); longer recordings get longer units
MERGE_DISTANCE = 0.3  # voices whose centres are closer (cosine distance) are one; see docs/speakers.md


class Turn(NamedTuple):
    """A stretch of speech by one voice: seconds from the recording's start, and ``"S1"``, ``"S2"``..."""

    start_s: float
    end_s: float
    speaker: str


@dataclass(frozen=True)
class SpeakerTurns:
    """The result of `speaker_turns`.

    turns : the speech, in time order, each piece with its voice ("S1" speaks first).
    n_speakers : how many voices `turns` names.
    n_found : how many voices the threshold finds (differs from n_speakers only when a count
        was asked for).
    warnings : what the caller should tell the user (a count asked for that the voices do not
        support, speech too short to tell voices apart).
    """

    turns: list[Turn]
    n_speakers: int
    n_found: int
    warnings: list[str] = field(default_factory=list)

    def speaking_time(self) -> dict[str, float]:
        """Seconds of speech of each voice, in the order of first appearance."""
        out: dict[str, float] = {}
        for turn in self.turns:
            out[turn.speaker] = out.get(turn.speaker, 0.0) + turn.end_s - turn.start_s
        return out


def speaker_turns(
    signal: np.ndarray,
    speech_regions: Sequence[tuple[float, float]],
    n_speakers: str | int = "auto",
    *,
    encoder: VoiceEncoder | None = None,
    threshold: float = TURN_THRESHOLD,
    window_s: float = 1.6,
    hop_s: float = 0.4,
    min_embed_s: float = 0.4,
    merge_distance: float = MERGE_DISTANCE,
    min_speaker_s: float = 3.0,
    min_turn_s: float = 0.5,
) -> SpeakerTurns:
    """Speaker turns of a 16 kHz mono float signal within its speech regions (see the module docstring).

    speech_regions : ``(start_s, end_s)`` of the speech, in seconds (any order; overlapping ones
        are joined; clipped to the signal). No regions is a result with no turns, not an error.
    n_speakers : ``"auto"`` or the number of voices, >= 1.
    encoder : the `VoiceEncoder` (default: the shipped one, loaded once per process).
    """
    signal = check_signal(signal)
    auto = _check_count(n_speakers)
    regions = _clean_regions(speech_regions, signal.shape[0] / SAMPLE_RATE)
    if not regions:
        return SpeakerTurns([], 0, 0)
    encoder = encoder or shared_encoder()
    long_enough = [r for r in regions if r[1] - r[0] >= min_embed_s]
    if not long_enough:
        return SpeakerTurns([Turn(a, b, "S1") for a, b in regions], 1, 1, ["speech too short to tell voices apart: all given to one voice"])

    times, embeddings, owner = _region_windows(encoder, signal, long_enough, window_s, hop_s)
    weights = np.minimum(times[:, 1] - times[:, 0], window_s)
    tree = _UnitTree.of(embeddings, weights, owner)
    centres = _voices(embeddings, weights, tree.groups(threshold=threshold), "auto", merge_distance, min_speaker_s)
    n_found, warnings = centres.shape[0], []
    if not auto:
        centres = _best_voices(embeddings, weights, tree, n_speakers, threshold, merge_distance)
        if n_found != n_speakers:
            warnings.append(f"asked for {n_speakers} speakers; the voices suggest {n_found}")

    pieces: list[tuple[float, float, int]] = []
    for a, b in long_enough:
        inside = (times[:, 0] >= a - 1e-6) & (times[:, 1] <= b + 1e-6)
        pieces += _label_region(a, b, times[inside], embeddings[inside], centres, min_turn_s)
    pieces = _attach_short_regions(pieces, [r for r in regions if r[1] - r[0] < min_embed_s])
    turns, n = _name_turns(pieces)
    if not auto and n < n_speakers and n != n_found:
        warnings.append(f"only {n} voices could be told apart")
    return SpeakerTurns(turns, n, n if auto else n_found, warnings)


def _check_count(n_speakers) -> bool:
    """True for "auto"; a SpeakerError for anything but "auto" or a whole number >= 1."""
    if n_speakers == "auto":
        return True
    if isinstance(n_speakers, (bool, float)) or not isinstance(n_speakers, (int, np.integer)) or n_speakers < 1:
        raise SpeakerError(f"n_speakers: 'auto' or a whole number >= 1 expected, got {n_speakers!r}")
    return False


def _clean_regions(regions, duration_s: float) -> list[tuple[float, float]]:
    """Sorted, disjoint regions inside [0, duration_s]; a SpeakerError names a malformed one."""
    spans = []
    for i, region in enumerate(regions):
        try:
            a, b = (float(v) for v in region)
        except (TypeError, ValueError):
            raise SpeakerError(f"speech region {i}: expected (start_s, end_s), got {region!r}") from None
        if not (np.isfinite(a) and np.isfinite(b)) or b < a:
            raise SpeakerError(f"speech region {i}: start {a} and end {b} must be finite with start <= end")
        a, b = max(0.0, a), min(duration_s, b)
        if b > a:
            spans.append((a, b))
    merged: list[list[float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _region_windows(encoder, signal, regions, window_s, hop_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window times [n, 2] (seconds), embeddings [n, 256] and region index [n] of all regions'
    windows, in time order; the partials of all regions run in shared batches."""
    plans, offsets = [], []
    for a, b in regions:
        start, end = int(round(a * SAMPLE_RATE)), int(round(b * SAMPLE_RATE))
        plans.append(WindowPlan.of(normalize_volume(signal[start:end]), window_s, hop_s))
        offsets.append(start / SAMPLE_RATE)
    partials = encoder.embed_mels(np.concatenate([p.mels for p in plans]))
    times, embeddings, owner, first = [], [], [], 0
    for index, (plan, offset) in enumerate(zip(plans, offsets)):
        rows = plan.mels.shape[0]
        times.append(plan.times(offset))
        embeddings.append(plan.embeddings(partials[first : first + rows]))
        owner.append(np.full(len(plan.spans), index))
        first += rows
    return np.concatenate(times), np.concatenate(embeddings), np.concatenate(owner)


@dataclass(frozen=True)
class _UnitTree:
    """Average-linkage merges of "units": runs of up to `UNIT_WINDOWS` consecutive windows of one
    region (about 3 s of speech), averaged. Units are less noisy than single windows, and keep
    the distance matrix small (at most `MAX_UNITS` units: longer recordings get longer units)."""

    unit_of: np.ndarray  # [n windows] unit index of each window
    merges: np.ndarray  # average_linkage rows over the units

    @classmethod
    def of(cls, embeddings: np.ndarray, weights: np.ndarray, owner: np.ndarray) -> "_UnitTree":
        per_unit = max(UNIT_WINDOWS, int(np.ceil(embeddings.shape[0] / MAX_UNITS)))
        unit_of = np.zeros(embeddings.shape[0], dtype=np.int64)
        count = 0
        for region in np.unique(owner):
            rows = np.flatnonzero(owner == region)
            unit_of[rows] = count + np.arange(rows.shape[0]) // per_unit
            count = int(unit_of[rows].max()) + 1
        sums = np.zeros((count, embeddings.shape[1]))
        np.add.at(sums, unit_of, embeddings * weights[:, None])
        unit_weights = np.bincount(unit_of, weights=weights)
        return cls(unit_of, average_linkage(cosine_distances(sums), unit_weights))

    def groups(self, threshold: float | None = None, count: int | None = None) -> np.ndarray:
        """Window groups [n] at a distance threshold, or cut into `count` groups."""
        n_units = self.merges.shape[0] + 1
        if count is not None:
            n_merges = n_units - min(count, n_units)
        else:
            n_merges = int(np.searchsorted(self.merges[:, 2], threshold, side="right"))
        return cut(self.merges, n_units, n_merges)[self.unit_of]


def _best_voices(embeddings, weights, tree: _UnitTree, n_speakers: int, threshold: float, merge_distance: float) -> np.ndarray:
    """`n_speakers` centres: k-means started from several cuts of the unit tree, the start whose
    result fits the windows best kept (largest weighted similarity of windows to their centre).
    One start is not enough: its largest groups can all be one speaker's moods."""
    starts = [tree.groups(threshold=t) for t in sorted({threshold, 0.3, 0.35, 0.4, 0.5})]
    starts += [tree.groups(count=k) for k in range(n_speakers, n_speakers + 4)]
    results = [_voices(embeddings, weights, groups, n_speakers, merge_distance, 0.0) for groups in starts]
    complete = [c for c in results if c.shape[0] == n_speakers] or results
    return max(complete, key=lambda c: float(weights @ np.max(embeddings @ c.T, axis=1)))


def _voices(embeddings, weights, groups, n_speakers, merge_distance, min_speaker_s) -> np.ndarray:
    """Unit centres [k, 256] of the voices, from window embeddings [n, 256], their weights [n]
    (seconds) and groups [n] (see the module docstring, step 3)."""
    totals = np.bincount(groups, weights=weights)
    order = np.argsort(-totals, kind="stable")
    if n_speakers == "auto":
        seeds = [g for g in order if totals[g] >= min_speaker_s] or [order[0]]
    else:
        seeds = list(order[:n_speakers])
    centres = _kmeans(embeddings, weights, _centres(embeddings, weights, groups, seeds))
    target = 1 if n_speakers == "auto" else n_speakers
    while centres.shape[0] > target:
        similarity = centres @ centres.T
        np.fill_diagonal(similarity, -np.inf)
        i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        if n_speakers == "auto" and 1 - similarity[i, j] > merge_distance:
            break
        sizes = np.bincount(np.argmax(embeddings @ centres.T, axis=1), weights=weights, minlength=centres.shape[0])
        joined = unit_rows(sizes[i] * centres[i] + sizes[j] * centres[j])
        centres = _kmeans(embeddings, weights, np.vstack([np.delete(centres, [i, j], axis=0), joined]))
    return centres


def _centres(embeddings, weights, groups, chosen) -> np.ndarray:
    """Unit weighted means [len(chosen), 256] of the windows of the chosen groups."""
    return unit_rows(np.stack([(embeddings[groups == g] * weights[groups == g, None]).sum(axis=0) for g in chosen]))


def _kmeans(embeddings, weights, centres, iterations: int = 5) -> np.ndarray:
    """Spherical k-means from `centres`: each window to its most similar centre, centres to the
    weighted means of their windows; a centre left without windows is dropped."""
    for _ in range(iterations):
        nearest = np.argmax(embeddings @ centres.T, axis=1)
        kept = [k for k in range(centres.shape[0]) if (nearest == k).any()]
        updated = _centres(embeddings, weights, nearest, kept)
        if updated.shape == centres.shape and np.allclose(updated, centres):
            break
        centres = updated
    return centres


def _label_region(a, b, times, embeddings, centres, min_turn_s) -> list[tuple[float, float, int]]:
    """(start_s, end_s, voice) pieces of one region from its windows (times [w, 2], embeddings [w, 256])."""
    n_cells = max(1, int(round((b - a) / CELL_S)))
    first = np.clip(np.round((times[:, 0] - a) / CELL_S).astype(int), 0, n_cells - 1)
    last = np.clip(np.round((times[:, 1] - a) / CELL_S).astype(int), first + 1, n_cells)
    # Each cell: the mean similarity to each voice of the windows covering it, by cumulative sums
    # of +/- at window edges ([cells, voices]: small however long the region). Its argmax is the
    # voice most similar to the cell's mean window embedding.
    scores = embeddings @ centres.T
    edges = np.zeros((n_cells + 1, scores.shape[1] + 1))
    np.add.at(edges, first, np.hstack([scores, np.ones((scores.shape[0], 1))]))
    np.add.at(edges, last, -np.hstack([scores, np.ones((scores.shape[0], 1))]))
    cover = np.cumsum(edges[:-1], axis=0)
    similarity = cover[:, :-1] / np.maximum(cover[:, -1:], 1.0)  # [cells, voices]
    cells = np.argmax(similarity, axis=1)
    cells = _absorb_short_runs(cells, similarity, int(round(min_turn_s / CELL_S)))
    change = np.flatnonzero(np.diff(cells)) + 1
    bounds = np.concatenate([[0], change, [n_cells]])
    pieces = []
    for i, j in zip(bounds[:-1], bounds[1:]):
        start, end = a + i * CELL_S, min(b, a + j * CELL_S)
        pieces.append((start, b if j == n_cells else end, int(cells[i])))
    return pieces


def _absorb_short_runs(cells: np.ndarray, similarity: np.ndarray, min_cells: int) -> np.ndarray:
    """Runs of one voice shorter than `min_cells` relabelled to the neighbouring voice their cells
    resemble more, shortest first, until none is left (or one run remains)."""
    cells = cells.copy()
    while True:
        change = np.flatnonzero(np.diff(cells)) + 1
        bounds = np.concatenate([[0], change, [cells.shape[0]]])
        if bounds.shape[0] <= 2:
            return cells
        lengths = np.diff(bounds)
        shortest = int(np.argmin(lengths))
        if lengths[shortest] >= min_cells:
            return cells
        i, j = bounds[shortest], bounds[shortest + 1]
        neighbours = [cells[i - 1]] if i > 0 else []
        neighbours += [cells[j]] if j < cells.shape[0] else []
        scores = [similarity[i:j, v].sum() for v in neighbours]
        cells[i:j] = neighbours[int(np.argmax(scores))]


def _attach_short_regions(pieces, short_regions) -> list[tuple[float, float, int]]:
    """Regions too short to embed, each given the voice of the nearest piece in time."""
    out = list(pieces)
    for a, b in short_regions:
        gaps = [max(p[0] - b, a - p[1], 0.0) for p in pieces]
        out.append((a, b, pieces[int(np.argmin(gaps))][2]))
    return sorted(out)


def _name_turns(pieces) -> tuple[list[Turn], int]:
    """Turns named S1, S2... by first appearance, adjacent pieces of one voice with no gap joined."""
    names: dict[int, str] = {}
    turns: list[Turn] = []
    for start, end, voice in pieces:
        name = names.setdefault(voice, f"S{len(names) + 1}")
        if turns and turns[-1].speaker == name and abs(turns[-1].end_s - start) < 1e-6:
            turns[-1] = Turn(turns[-1].start_s, end, name)
        else:
            turns.append(Turn(round(start, 3), round(end, 3), name))
    return [Turn(round(t.start_s, 3), round(t.end_s, 3), t.speaker) for t in turns], len(names)
