"""Who spoke when: speech regions cut at speaker changes, and the pieces grouped by voice.

    >>> result = speaker_turns(signal, [(0.3, 4.1), (4.6, 9.0)])      # 16 kHz signal, seconds
    >>> result.turns
    [Turn(start_s=0.3, end_s=4.1, speaker='S1'), Turn(start_s=4.6, end_s=9.0, speaker='S2')]
    >>> result.n_speakers, result.n_found, result.warnings
    (2, 2, [])

How (all numpy and onnxruntime, `VoiceEncoder` + `Nuisance` + average linkage):

1. Each speech region is covered by windows of `window_s` (1.6 s, one partial of the encoder)
   every `hop_s` (0.4 s); a region shorter than a window is one window of what there is.
   Regions shorter than `min_embed_s` (0.4 s: a word or a breath) are not embedded at all
   (`speaker_windows`; the rest is `turns_from_windows`, so a recording embedded once can be
   cut with several counts or settings).
2. The window embeddings are centred and the directions in which one speaker's windows vary
   most (mood, loudness, words; learned on other speakers) are projected out (`Nuisance`), so
   that the clustering below splits voices, not moods. Runs of up to 4 consecutive windows of a
   region (about 2.8 s) are averaged into units, and the units grouped with average linkage
   (weighted by seconds) into a tree.
3. Voices. For k voices, spherical k-means over all windows starts from several cuts of the
   unit tree (the largest groups at a few distance thresholds, or the tree cut into k to k + 3
   groups) and the start whose voices fit the windows best is kept: one start is not enough,
   since its largest groups can all be one speaker's moods. With ``n_speakers="auto"`` the
   count grows from one while the best k + 1 voices are all at least `merge_distance` apart
   (cosine distance of their centres), each holds at least `min_share` of the speech and
   `min_speaker_s` seconds, and their closest pair is at least `min_gap` times as far apart as
   that of the best k + 2 voices (a real new voice stands out from the splits of one voice's
   moods that follow it): one voice too few is preferred to one too many. With an integer,
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
from ser.speakers.nuisance import Nuisance

logger = logging.getLogger(__name__)

CELL_S = 0.01
TURN_THRESHOLD = 0.4  # average-linkage distance of the first grouping of windows; see docs/speakers.md
UNIT_WINDOWS = 4  # consecutive windows averaged into one unit of the first grouping (~2.8 s)
MAX_UNITS = 2000  # at most this many units (a 16 MB distance matrix); longer recordings get longer units
MIN_SHARE = 0.1  # a voice of the automatic count holds at least this share of the speech
MAX_SPEAKERS = 8  # the automatic count stops here
MIN_GAP = 1.0  # the automatic count: a new voice's closest distance over that of the next split
MERGE_DISTANCE = 0.5  # the automatic count: voices closer than this (cosine distance of projected centres) are one


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


@dataclass(frozen=True)
class SpeakerWindows:
    """The embedded speech of one recording, from `speaker_windows` (for `turns_from_windows`).

    regions : the cleaned speech regions (sorted, disjoint), seconds.
    embedded : the regions at least `min_embed_s` long, whose windows are below.
    times : [n, 2] start and end of each window, seconds; embeddings : [n, 256] unit rows;
    owner : [n] index into `embedded` of each window's region.
    """

    regions: list[tuple[float, float]]
    embedded: list[tuple[float, float]]
    times: np.ndarray
    embeddings: np.ndarray
    owner: np.ndarray
    window_s: float


def speaker_windows(
    signal: np.ndarray,
    speech_regions: Sequence[tuple[float, float]],
    *,
    encoder: VoiceEncoder | None = None,
    window_s: float = 1.6,
    hop_s: float = 0.4,
    min_embed_s: float = 0.4,
) -> SpeakerWindows:
    """Voice embeddings of windows over the speech of a 16 kHz mono float signal (step 1 of the
    module docstring): the costly part of `speaker_turns`, kept so that several counts or
    settings can be tried with `turns_from_windows` without embedding twice.

    speech_regions : ``(start_s, end_s)`` of the speech, in seconds (any order; overlapping ones
        are joined; clipped to the signal).
    encoder : the `VoiceEncoder` (default: the shipped one, loaded once per process).
    """
    signal = check_signal(signal)
    regions = _clean_regions(speech_regions, signal.shape[0] / SAMPLE_RATE)
    embedded = [r for r in regions if r[1] - r[0] >= min_embed_s]
    if not embedded:
        empty = np.zeros((0, 2))
        return SpeakerWindows(regions, [], empty, np.zeros((0, 256), np.float32), np.zeros(0, np.int64), window_s)
    times, embeddings, owner = _region_windows(encoder or shared_encoder(), signal, embedded, window_s, hop_s)
    return SpeakerWindows(regions, embedded, times, embeddings, owner, window_s)


def speaker_turns(
    signal: np.ndarray,
    speech_regions: Sequence[tuple[float, float]],
    n_speakers: str | int = "auto",
    *,
    encoder: VoiceEncoder | None = None,
    window_s: float = 1.6,
    hop_s: float = 0.4,
    min_embed_s: float = 0.4,
    **settings,
) -> SpeakerTurns:
    """Speaker turns of a 16 kHz mono float signal within its speech regions (see the module
    docstring): `speaker_windows`, then `turns_from_windows` with `settings`.

    speech_regions : ``(start_s, end_s)`` of the speech, in seconds (any order; overlapping ones
        are joined; clipped to the signal). No regions is a result with no turns, not an error.
    n_speakers : ``"auto"`` or the number of voices, >= 1.
    encoder : the `VoiceEncoder` (default: the shipped one, loaded once per process).
    """
    _check_count(n_speakers)
    windows = speaker_windows(signal, speech_regions, encoder=encoder, window_s=window_s, hop_s=hop_s, min_embed_s=min_embed_s)
    return turns_from_windows(windows, n_speakers, **settings)


def turns_from_windows(
    windows: SpeakerWindows,
    n_speakers: str | int = "auto",
    *,
    threshold: float = TURN_THRESHOLD,
    merge_distance: float = MERGE_DISTANCE,
    min_speaker_s: float = 1.5,
    min_share: float = MIN_SHARE,
    max_speakers: int = MAX_SPEAKERS,
    min_gap: float = MIN_GAP,
    min_turn_s: float = 0.5,
    nuisance: Nuisance | bool = True,
) -> SpeakerTurns:
    """Steps 2-5 of the module docstring on embedded speech.

    n_speakers : ``"auto"`` or the number of voices, >= 1.
    threshold : average-linkage distance of the first grouping of units.
    merge_distance, min_speaker_s, min_share, max_speakers, min_gap : the automatic count (step 3).
    min_turn_s : shorter runs of one voice inside a region join a neighbour.
    nuisance : the projection of the embeddings (True: the shipped `Nuisance`; False: none).
    """
    auto = _check_count(n_speakers)
    if not windows.regions:
        return SpeakerTurns([], 0, 0)
    if not windows.embedded:
        turns = [Turn(a, b, "S1") for a, b in windows.regions]
        return SpeakerTurns(turns, 1, 1, ["speech too short to tell voices apart: all given to one voice"])
    times, owner = windows.times, windows.owner
    embeddings = windows.embeddings
    if nuisance is not False:
        embeddings = (Nuisance.shipped() if nuisance is True else nuisance).apply(embeddings)
    weights = np.minimum(times[:, 1] - times[:, 0], windows.window_s)
    tree = _UnitTree.of(embeddings, weights, owner)
    solutions: dict[int, np.ndarray] = {}

    def voices(k: int) -> np.ndarray:
        if k not in solutions:
            solutions[k] = _best_voices(embeddings, weights, tree, k, threshold)
        return solutions[k]

    # Windows overlap: each stands for an equal part of its region's seconds when voices are counted.
    lengths = np.asarray([b - a for a, b in windows.embedded])
    seconds = lengths[owner] / np.bincount(owner)[owner]
    least = max(min_speaker_s, min_share * lengths.sum())
    n_found = _count_voices(voices, embeddings, seconds, merge_distance, least, max_speakers, min_gap)
    centres, warnings = voices(n_found if auto else n_speakers), []
    if not auto and n_found != n_speakers:
        warnings.append(f"asked for {n_speakers} speakers; the voices suggest {n_found}")

    pieces: list[tuple[float, float, int]] = []
    for index, (a, b) in enumerate(windows.embedded):
        inside = owner == index
        pieces += _label_region(a, b, times[inside], embeddings[inside], centres, min_turn_s)
    pieces = _attach_short_regions(pieces, [r for r in windows.regions if r not in windows.embedded])
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


def _count_voices(voices, embeddings, seconds, merge_distance, least, max_speakers, min_gap) -> int:
    """How many voices: k + 1 instead of k while the best k + 1 voices (`voices(k + 1)`) are all
    at least `merge_distance` apart (cosine distance of centres), each holds `least` seconds of
    speech (`seconds` [n]: the speech each window [n, d] stands for), and their closest pair is
    at least `min_gap` times as far apart as that of the best k + 2 voices (a new voice must
    stand out from the splits of one voice's moods that come after it)."""
    k = 1
    while k < max_speakers:
        centres = voices(k + 1)
        if centres.shape[0] < k + 1:
            break
        held = np.bincount(np.argmax(embeddings @ centres.T, axis=1), weights=seconds, minlength=k + 1)
        gap = _closest(centres)
        if gap < merge_distance or held.min() < least:
            break
        after = voices(k + 2) if min_gap > 0 else centres
        if after.shape[0] == k + 2 and gap < min_gap * _closest(after):
            break
        k += 1
    return k


def _closest(centres: np.ndarray) -> float:
    """Cosine distance of the two most similar of unit `centres` [k >= 2, d]."""
    similarity = centres @ centres.T
    np.fill_diagonal(similarity, -np.inf)
    return float(1 - similarity.max())


def _best_voices(embeddings, weights, tree: _UnitTree, n_speakers: int, threshold: float) -> np.ndarray:
    """`n_speakers` centres: k-means started from several cuts of the unit tree, the start whose
    result fits the windows best kept (largest weighted similarity of windows to their centre).
    One start is not enough: its largest groups can all be one speaker's moods."""
    starts = [tree.groups(threshold=t) for t in sorted({threshold, 0.3, 0.35, 0.4, 0.5})]
    starts += [tree.groups(count=k) for k in range(n_speakers, n_speakers + 4)]
    results = [_voices(embeddings, weights, groups, n_speakers) for groups in starts]
    complete = [c for c in results if c.shape[0] == n_speakers] or results
    return max(complete, key=lambda c: float(weights @ np.max(embeddings @ c.T, axis=1)))


def _voices(embeddings, weights, groups, n_speakers: int) -> np.ndarray:
    """Centres [<= n_speakers, d] of the voices: spherical k-means over the windows [n, d]
    (weights [n] in seconds), started from the `n_speakers` largest window `groups` [n]."""
    totals = np.bincount(groups, weights=weights)
    seeds = list(np.argsort(-totals, kind="stable")[:n_speakers])
    return _kmeans(embeddings, weights, _centres(embeddings, weights, groups, seeds))


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
