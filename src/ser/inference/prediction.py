"""`Prediction`: what the model says about one clip (or one window of a stream), as plain data.

    >>> prediction = Prediction.from_scores(["neutral", "angry"], np.array([0.2, 0.8]), duration_s=3.0, speech_s=2.1)
    >>> prediction.label, round(prediction.confidence, 2)
    ('angry', 0.8)
    >>> Prediction.no_speech(5.0).to_dict()["label"] is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

# Less speech than this is no speech: the detector's own shortest region. Up to LOW_SPEECH_S a
# label is given but flagged: the model trained on utterances of 1.5-5 s.
MIN_SPEECH_S = 0.25
LOW_SPEECH_S = 1.0
NO_SPEECH = "no speech detected"


@dataclass(frozen=True)
class Prediction:
    """The model's verdict on one clip, from its speech only.

    label : the most probable emotion, or None when the clip holds no speech (`NO_SPEECH` is then
        among the warnings, confidence is 0 and scores are empty).
    confidence : the label's probability, in [0, 1].
    scores : every label's probability (summing to 1), in the model's label order.
    duration_s : length of the audio in seconds; speech_s : seconds of it the detector found to be
        speech (the whole clip with ``vad=False``), the only part the model judged.
    warnings : what the caller should know (no speech, little speech, a profile not used...).
    adaptation : ``{"group": name, "clips": n}`` when the scores were adapted to a speaker.
    arousal, valence : in [-1, 1], derived from the scores through the circumplex of affect
        (`ser.dimensions`: derived, not trained on dimensional ratings); None without speech.
    """

    label: str | None
    confidence: float
    scores: dict[str, float]
    duration_s: float
    speech_s: float = 0.0
    warnings: tuple[str, ...] = ()
    adaptation: dict[str, Any] | None = None
    arousal: float | None = None
    valence: float | None = None

    @classmethod
    def from_scores(
        cls, labels: Sequence[str], probs: np.ndarray, duration_s: float, speech_s: float | None = None, **extra
    ) -> "Prediction":
        """The prediction for probabilities `probs` over `labels`."""
        from ser.dimensions import derive_dimensions

        best = int(np.argmax(probs))
        speech_s = duration_s if speech_s is None else speech_s
        arousal, valence = derive_dimensions(np.asarray(probs)[None], list(labels))
        warnings = tuple(extra.pop("warnings", ()))
        if speech_s < LOW_SPEECH_S:
            warnings += (f"only {speech_s:.2f} s of speech; the label is less reliable",)
        return cls(
            label=labels[best],
            confidence=float(probs[best]),
            scores={label: float(p) for label, p in zip(labels, probs)},
            duration_s=float(duration_s),
            speech_s=float(speech_s),
            warnings=warnings,
            arousal=float(arousal[0]),
            valence=float(valence[0]),
            **extra,
        )

    @classmethod
    def no_speech(cls, duration_s: float, speech_s: float = 0.0, warnings: Sequence[str] = ()) -> "Prediction":
        """The result for a clip without (enough) speech: no label."""
        return cls(None, 0.0, {}, float(duration_s), float(speech_s), (NO_SPEECH, *warnings))

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The `k` most probable ``(label, probability)`` pairs, most probable first."""
        return sorted(self.scores.items(), key=lambda kv: -kv[1])[: max(0, k)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: label (null without speech), confidence, scores, duration_s,
        speech_s, warnings, and adaptation when adapted."""
        out = {
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "duration_s": round(self.duration_s, 3),
            "speech_s": round(self.speech_s, 3),
            "warnings": list(self.warnings),
            "arousal": None if self.arousal is None else round(self.arousal, 4),
            "valence": None if self.valence is None else round(self.valence, 4),
        }
        if self.adaptation is not None:
            out["adaptation"] = dict(self.adaptation)
        return out


