"""Emotion over time in a long recording: the segments `Recognizer.timeline` judged, and summaries.

Two ways to cut a recording (`ser.inference.recognizer.Recognizer.timeline`):

- with the speech detector (default; `ser.inference.vad`): each speech region is one segment
  (regions longer than ``max_segment`` seconds are cut into near-equal pieces), and the gaps
  become ``kind="silence"`` segments labelled ``"silence"``, never forced into an emotion;
- ``vad=False``: overlapping windows of ``window`` seconds every ``hop`` seconds
  (`sliding_windows`), all judged; `ser.inference.stream.Stream` yields the same windows live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np

SAMPLE_RATE = 16000
SILENCE = "silence"


@dataclass(frozen=True)
class Segment:
    """A stretch of the recording and what the model says about it.

    ``kind`` is ``"speech"`` (label and scores from the model) or ``"silence"`` (label
    ``"silence"``, confidence 1.0, empty scores: the detector's call, not the model's).
    ``speaker`` names the voice ("S1", "S2", ...) when the timeline was cut at speaker turns.
    """

    start_s: float
    end_s: float
    label: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    kind: str = "speech"
    speaker: str | None = None
    arousal: float | None = None  # derived from the scores (ser.dimensions); None for silence
    valence: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "kind": self.kind,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            **({"speaker": self.speaker} if self.speaker is not None else {}),
            **({"arousal": round(self.arousal, 4), "valence": round(self.valence, 4)} if self.arousal is not None else {}),
        }


@dataclass(frozen=True)
class Timeline:
    """The segments of one recording, in time order, and its length in seconds."""

    segments: list[Segment]
    duration_s: float
    labels: list[str]  # the model's labels, in its output order
    warnings: list[str] = field(default_factory=list)  # e.g. fewer voices found than asked for

    def scores_over_time(self, step: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores on a regular time grid: ``(times, scores, speech)``.

        times : (n,) start of each `step`-second cell; scores : (n, len(labels)) mean scores of
        the speech segments covering the cell (zeros where none does); speech : (n,) bool, True
        where a speech segment covers the cell.
        """
        n_cells = max(1, int(np.ceil(self.duration_s / step - 1e-9)))
        index = {label: i for i, label in enumerate(self.labels)}
        totals = np.zeros((n_cells, len(self.labels)), dtype=np.float32)
        counts = np.zeros(n_cells, dtype=np.int32)
        for segment in self.segments:
            a, b = int(round(segment.start_s / step)), int(round(segment.end_s / step))
            if segment.kind != "speech" or b <= a:
                continue
            scores = np.zeros(len(self.labels), dtype=np.float32)
            for label, value in (segment.scores or {segment.label: 1.0}).items():
                scores[index[label]] = value
            totals[a:b] += scores
            counts[a:b] += 1
        speech = counts > 0
        totals[speech] /= counts[speech, None]
        return np.arange(n_cells) * step, totals, speech

    def summary(self) -> dict:
        """How the recording's time divides among emotions.

        Returns ``{"label", "confidence", "duration_s", "speech_s", "silence_s", "silence_share",
        "emotions"}``. ``label`` and ``confidence`` are the whole recording's verdict: the speech
        segments' scores averaged by duration, exactly as `Recognizer.__call__` computes the
        file's label (None when there is no speech). ``emotions`` maps every label to its share of the speech time (summing to 1 when there
        is speech), largest first, and ``silence_share`` is silence's share of the whole
        recording. Where windows overlap, each 10 ms of audio takes the label with the highest
        mean score over the windows covering it.
        """
        cell = 0.01
        _, scores, speech = self.scores_over_time(cell)
        speech_cells = int(speech.sum())
        counts = np.bincount(scores[speech].argmax(axis=1), minlength=len(self.labels)) if speech_cells else np.zeros(len(self.labels))
        shares = {label: (counts[i] / speech_cells if speech_cells else 0.0) for i, label in enumerate(self.labels)}
        speech_s = min(self.duration_s, speech_cells * cell)
        overall = self.overall_scores()
        best = max(overall, key=overall.get) if overall else None
        return {
            "label": best,
            "confidence": round(overall[best], 6) if best else 0.0,
            "duration_s": round(self.duration_s, 3),
            "speech_s": round(speech_s, 3),
            "silence_s": round(self.duration_s - speech_s, 3),
            "silence_share": round(1.0 - speech_cells / len(speech), 4),
            "emotions": {k: round(float(v), 4) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])},
            **({"speakers": self.speakers_summary()} if any(seg.speaker for seg in self.segments) else {}),
        }

    def speakers_summary(self) -> dict[str, dict]:
        """Per voice: its seconds of speech, its overall label, and each emotion's share of its
        speech time (segments' labels weighted by duration)."""
        out: dict[str, dict] = {}
        for name in sorted({seg.speaker for seg in self.segments if seg.speaker}, key=lambda n: (len(n), n)):
            mine = [seg for seg in self.segments if seg.speaker == name and seg.kind == "speech"]
            total = sum(seg.duration_s for seg in mine)
            shares = {label: 0.0 for label in self.labels}
            mean = {label: 0.0 for label in self.labels}
            for seg in mine:
                shares[seg.label] += seg.duration_s / max(total, 1e-9)
                for label, value in seg.scores.items():
                    mean[label] += value * seg.duration_s / max(total, 1e-9)
            best = max(mean, key=mean.get) if mine else None
            out[name] = {
                "speech_s": round(total, 3),
                "label": best,
                "emotions": {k: round(v, 4) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])},
            }
        return out

    def overall_scores(self) -> dict[str, float]:
        """Every label's score over the whole recording: the speech segments' scores averaged,
        weighted by duration ({} without speech)."""
        speech = [s for s in self.segments if s.kind == "speech" and s.scores]
        total = sum(s.duration_s for s in speech)
        if not speech or total <= 0:
            return {}
        return {label: sum(s.scores[label] * s.duration_s for s in speech) / total for label in self.labels}

    def to_dict(self) -> dict:
        return {
            "duration_s": round(self.duration_s, 3),
            "segments": [s.to_dict() for s in self.segments],
            "summary": self.summary(),
            **({"warnings": list(self.warnings)} if self.warnings else {}),
        }


def sliding_windows(n_samples: int, window: int, hop: int) -> list[tuple[int, int]]:
    """Sample spans of windows of `window` samples every `hop`, covering ``[0, n_samples)``.

    Windows start at 0, hop, 2 hop, ... while they fit; if samples remain after the last one,
    a final window ends at the recording's end (so every window but a lone one in a recording
    shorter than `window` is full length). `Stream` produces exactly these spans.
    """
    if n_samples <= window:
        return [(0, n_samples)] if n_samples > 0 else []
    spans = [(start, start + window) for start in range(0, n_samples - window + 1, hop)]
    if spans[-1][1] < n_samples:
        spans.append((n_samples - window, n_samples))
    return spans
