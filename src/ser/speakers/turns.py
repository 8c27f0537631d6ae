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
2. The windows are grouped by voice with average linkage (`group_by_voice`), each weighted by
   its seconds of audio so that short, noisy windows sway the mean distances less. With
   ``n_speakers="auto"`` the distance `threshold` decides how many voices there are, and a
   group holding less than `min_speaker_s` of speech in all is folded into the others
   (a voice is not invented from a few windows that straddle a change of speaker); with an
   integer the count is forced, and `SpeakerTurns.n_found` and a warning tell when the voices
   suggest another number.
3. Each voice's centre is the mean of its windows. Every 10 ms of speech takes the voice whose
   centre is most similar to the mean embedding of the windows covering it, so a change of
   speaker inside a region (a gap too short for the detector) is placed within about `hop_s`.
   Runs shorter than `min_turn_s` (0.5 s) inside a region go to the neighbour they resemble more.
4. Regions too short to embed take the voice of the nearest speech in time.

Limits (docs/speakers.md): speech over speech is given to one voice; music and noise inside a
"speech" region are given to whichever voice they resemble most (use a speech detector that
excludes them); a turn shorter than a window is judged on zero-padded audio, less reliably.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from ser.speakers.clustering import group_by_voice
from ser.speakers.embedding import SAMPLE_RATE, SpeakerError, VoiceEncoder, WindowPlan, check_signal, normalize_volume

logger = logging.getLogger(__name__)

CELL_S = 0.01
TURN_THRESHOLD = 0.4  # cosine distance between voices' windows; see docs/speakers.md


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
    encoder = encoder or _shared_encoder()
    long_enough = [r for r in regions if r[1] - r[0] >= min_embed_s]
    if not long_enough:
        return SpeakerTurns([Turn(a, b, "S1") for a, b in regions], 1, 1, ["speech too short to tell voices apart: all given to one voice"])

    times, embeddings = _region_windows(encoder, signal, long_enough, window_s, hop_s)
    weights = np.minimum(times[:, 1] - times[:, 0], window_s)
    grouping = group_by_voice(embeddings, threshold, None if auto else n_speakers, weights=weights)
    labels, warnings = grouping.labels, []
    if auto:
        labels = _fold_small_groups(labels, embeddings, weights, min_speaker_s)
    elif grouping.n_found != n_speakers:
        warnings.append(f"asked for {n_speakers} speakers; the voices suggest {grouping.n_found}")
    centres = _unit(np.stack([embeddings[labels == g].mean(axis=0) for g in range(labels.max() + 1)]))

    pieces: list[tuple[float, float, int]] = []
    for a, b in long_enough:
        inside = (times[:, 0] >= a - 1e-6) & (times[:, 1] <= b + 1e-6)
        pieces += _label_region(a, b, times[inside], embeddings[inside], centres, min_turn_s)
    pieces = _attach_short_regions(pieces, [r for r in regions if r[1] - r[0] < min_embed_s])
    turns, n = _name_turns(pieces)
    if auto:
        return SpeakerTurns(turns, n, n, warnings)
    return SpeakerTurns(turns, n, grouping.n_found, warnings)


_ENCODER: VoiceEncoder | None = None


def _shared_encoder() -> VoiceEncoder:
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = VoiceEncoder.from_pretrained()
    return _ENCODER


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


def _region_windows(encoder, signal, regions, window_s, hop_s) -> tuple[np.ndarray, np.ndarray]:
    """Window times [n, 2] (seconds) and embeddings [n, 256] of all regions, one batch of partials."""
    plans, offsets = [], []
    for a, b in regions:
        start, end = int(round(a * SAMPLE_RATE)), int(round(b * SAMPLE_RATE))
        plans.append(WindowPlan.of(normalize_volume(signal[start:end]), window_s, hop_s))
        offsets.append(start / SAMPLE_RATE)
    partials = encoder.embed_mels(np.concatenate([p.mels for p in plans]))
    times, embeddings, first = [], [], 0
    for plan, offset in zip(plans, offsets):
        rows = plan.mels.shape[0]
        times.append(plan.times(offset))
        embeddings.append(plan.embeddings(partials[first : first + rows]))
        first += rows
    return np.concatenate(times), np.concatenate(embeddings)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def _fold_small_groups(labels: np.ndarray, embeddings: np.ndarray, weights: np.ndarray, min_speaker_s: float) -> np.ndarray:
    """Labels with every group of less than `min_speaker_s` (summed window seconds) given, window by
    window, to the most similar remaining group; renumbered 0.. by first appearance."""
    totals = np.bincount(labels, weights=weights)
    keep = np.flatnonzero(totals >= min_speaker_s)
    if keep.size == 0:
        keep = np.asarray([int(np.argmax(totals))])
    centres = _unit(np.stack([embeddings[labels == g].mean(axis=0) for g in keep]))
    small = ~np.isin(labels, keep)
    labels = labels.copy()
    labels[small] = keep[np.argmax(embeddings[small] @ centres.T, axis=1)]
    first: dict[int, int] = {}
    return np.asarray([first.setdefault(int(g), len(first)) for g in labels])


def _label_region(a, b, times, embeddings, centres, min_turn_s) -> list[tuple[float, float, int]]:
    """(start_s, end_s, voice) pieces of one region from its windows (times [w, 2], embeddings [w, 256])."""
    n_cells = max(1, int(round((b - a) / CELL_S)))
    first = np.clip(np.round((times[:, 0] - a) / CELL_S).astype(int), 0, n_cells - 1)
    last = np.clip(np.round((times[:, 1] - a) / CELL_S).astype(int), first + 1, n_cells)
    # Each cell: the sum of the embeddings of the windows covering it (cumulative sums of +/- at edges).
    edges = np.zeros((n_cells + 1, embeddings.shape[1]))
    np.add.at(edges, first, embeddings)
    np.add.at(edges, last, -embeddings)
    cover = np.cumsum(edges[:-1], axis=0)
    similarity = _unit(cover) @ centres.T  # [cells, voices]
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
