"""The Recognizer: audio in (a file, bytes, a file object or an array), emotion out.

    >>> from ser import Recognizer
    >>> recognizer = Recognizer.from_pretrained()          # the shipped default model
    >>> prediction = recognizer("call.wav")
    >>> prediction.label, prediction.confidence
    ('angry', 0.91)
    >>> prediction.top(3)
    [('angry', 0.91), ('disgust', 0.04), ('neutral', 0.02)]

Everything here runs on numpy, soundfile, soxr, PyAV and onnxruntime: no torch, no librosa.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence, TypeVar, Union

import numpy as np

from ser.audio import (
    DEFAULT_MAX_DURATION_S,
    SAMPLE_RATE,
    AudioError,
    AudioTooLongError,
    InvalidSamplesError,
    NoSamplesError,
    Source,
    load,
)
from ser.errors import ModelError
from ser.inference.backends import Backend
from ser.model_folder import CONFIG_NAME, load_model
from ser.inference.stream import Stream
from ser.inference.timeline import Timeline, build_timeline

AudioInput = Union[Source, np.ndarray]


@dataclass(frozen=True)
class Prediction:
    """The model's verdict on one clip.

    label : the most probable emotion.
    confidence : its probability, in [0, 1].
    scores : every label's probability (summing to 1), in the model's label order.
    duration_s : length of the audio in seconds.
    """

    label: str
    confidence: float
    scores: dict[str, float]
    duration_s: float

    @classmethod
    def from_scores(cls, labels: Sequence[str], probs: np.ndarray, duration_s: float) -> "Prediction":
        """The prediction for probabilities `probs` over `labels`."""
        best = int(np.argmax(probs))
        return cls(
            label=labels[best],
            confidence=float(probs[best]),
            scores={label: float(p) for label, p in zip(labels, probs)},
            duration_s=float(duration_s),
        )

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The `k` most probable ``(label, probability)`` pairs, most probable first."""
        return sorted(self.scores.items(), key=lambda kv: -kv[1])[: max(0, k)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: label, confidence, scores, duration_s."""
        return {
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "duration_s": round(self.duration_s, 3),
        }


Batch = TypeVar("Batch")
Result = TypeVar("Result")


def overlapped(batches: Iterable[Batch], predict: Callable[[Batch], Result], ahead: int = 2) -> Iterator[tuple[Batch, Result]]:
    """``(batch, predict(batch))`` for each batch, in order.

    Up to `ahead` batches are predicted at once on helper threads while the caller's iterator
    produces (decodes) the next one, so at most ``ahead + 1`` batches are held. Decoding is about
    a tenth of the work, and the cores would wait for it otherwise; and with two batches in
    flight the next one's clips fill the cores while the last clips of the previous one finish.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, ahead), thread_name_prefix="ser-predict") as pool:
        in_flight: deque = deque()
        for batch in batches:
            in_flight.append((batch, pool.submit(predict, batch)))
            if len(in_flight) >= ahead:
                done, future = in_flight.popleft()
                yield done, future.result()
        while in_flight:
            done, future = in_flight.popleft()
            yield done, future.result()


def default_model_dir() -> Path:
    """Where the package keeps its default model (``ser/pretrained/default``)."""
    return Path(str(resources.files("ser").joinpath("pretrained", "default")))


class Recognizer:
    """Predict emotions with an exported model (see `from_pretrained`).

    Parameters
    ----------
    backend : a loaded model (`ser.model_folder.load_model`).
    max_duration : longest audio accepted, in seconds (None: no limit); longer inputs raise
        `ser.audio.AudioTooLongError` instead of using unbounded time and memory.
    """

    def __init__(self, backend: Backend, *, max_duration: float | None = DEFAULT_MAX_DURATION_S):
        self.backend = backend
        self.max_duration = max_duration

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike | None = None, *, max_duration: float | None = DEFAULT_MAX_DURATION_S, **options
    ) -> "Recognizer":
        """Load the model folder `path` (``ser_model.json`` + files); None: the shipped default model.

        `options` go to the backend (for ONNX: ``threads``, ``batch_size``).
        """
        if path is None:
            path = default_model_dir()
            if not (path / CONFIG_NAME).is_file():
                raise ModelError(
                    f"the default model is not installed (no {CONFIG_NAME} in {path}); "
                    "reinstall ser, or pass a model folder (--model PATH / Recognizer.from_pretrained(PATH))"
                )
        return cls(load_model(path, **options), max_duration=max_duration)

    @property
    def labels(self) -> list[str]:
        """The emotions the model tells apart, in its output order."""
        return list(self.backend.labels)

    def __repr__(self) -> str:
        return f"Recognizer({self.backend!r})"

    def load(self, source: AudioInput, sr: int | None = None, *, name: str | None = None) -> np.ndarray:
        """`source` as a 16 kHz mono float32 signal, or an `AudioError` saying why it cannot be.

        Paths, bytes and binary file objects are decoded with `ser.audio.load`; a numpy array
        needs its sample rate `sr` and is checked (numeric, 1-D or 2-D, finite, not empty).
        """
        if isinstance(source, np.ndarray):
            if sr is None:
                raise TypeError("a numpy array needs its sample rate: recognizer(array, sr=...)")
            return self._from_array(source, int(sr), name or "<array>")
        if sr is not None:
            raise TypeError("sr is only for numpy arrays; files carry their own sample rate")
        return load(source, SAMPLE_RATE, max_duration=self.max_duration, name=name)

    def __call__(self, source: AudioInput, sr: int | None = None) -> Prediction:
        """The prediction for one clip (a path, bytes, a binary file object, or an array with `sr`).

        Clips longer than the model's longest input (30 s for the default) are cut into windows
        whose probabilities are averaged; for emotion over time use `timeline`.
        """
        signal = self.load(source, sr)
        return self.predict_signals([signal])[0]

    def predict_signals(self, signals: Sequence[np.ndarray]) -> list[Prediction]:
        """Predictions for 16 kHz mono float32 signals (already loaded)."""
        if not signals:
            return []
        probs = self.backend.predict_proba(list(signals))
        return [Prediction.from_scores(self.backend.labels, p, s.shape[0] / SAMPLE_RATE) for p, s in zip(probs, signals)]

    def predict_batch(
        self,
        sources: Iterable[AudioInput],
        *,
        batch_size: int = 16,
        on_error: Literal["raise", "return"] = "raise",
    ) -> list[Prediction | AudioError]:
        """Predictions for many clips, in order; clips of equal length share a model call.

        With ``on_error="return"`` an input that cannot be read yields its `AudioError` in its
        place and the others go on; with ``"raise"`` the first such error is raised.
        Arrays are not accepted here (their sample rate is unknown): call the recognizer on them.
        """
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        sources = list(sources)
        results: list[Prediction | AudioError | None] = [None] * len(sources)
        batch_size = max(1, batch_size)

        def decoded() -> Iterator[list[tuple[int, np.ndarray]]]:
            for start in range(0, len(sources), batch_size):
                loaded = []
                for i in range(start, min(start + batch_size, len(sources))):
                    try:
                        loaded.append((i, self.load(sources[i])))
                    except AudioError as exc:
                        if on_error == "raise":
                            raise
                        results[i] = exc
                yield loaded

        def predict(loaded: list[tuple[int, np.ndarray]]) -> list[Prediction]:
            return self.predict_signals([signal for _, signal in loaded])

        for loaded, predictions in overlapped(decoded(), predict):
            for (i, _), prediction in zip(loaded, predictions):
                results[i] = prediction
        return results  # type: ignore[return-value]

    def timeline(
        self,
        source: AudioInput,
        sr: int | None = None,
        *,
        window: float = 2.0,
        hop: float = 1.0,
        vad: bool = True,
        max_segment: float = 8.0,
        **vad_options,
    ) -> Timeline:
        """Emotion over time: speech segments (``vad=True``) or sliding windows, each predicted.

        See `ser.inference.timeline` for the speech detector and its options
        (threshold_db, noise_margin_db, floor_db, min_speech, min_silence, pad).
        """
        signal = self.load(source, sr)
        return build_timeline(
            self.backend, signal, window=window, hop=hop, vad=vad, max_segment=max_segment, **vad_options
        )

    def stream(self, *, sr: int = SAMPLE_RATE, window: float = 2.0, hop: float = 1.0, **options) -> Stream:
        """A `ser.inference.stream.Stream` to feed live PCM chunks at `sr` Hz."""
        return Stream(self.backend, sr=sr, window=window, hop=hop, **options)

    def _from_array(self, array: np.ndarray, sr: int, name: str) -> np.ndarray:
        if sr <= 0:
            raise ValueError(f"sr must be a positive sample rate, got {sr}")
        if array.dtype.kind not in "iuf":
            raise InvalidSamplesError(name, f"samples must be integers or floats, got dtype {array.dtype}")
        if array.ndim == 2:
            # (samples, channels) as soundfile returns, or (channels, samples) as torchaudio does.
            array = array.mean(axis=1 if array.shape[1] <= array.shape[0] else 0)
        elif array.ndim != 1:
            raise InvalidSamplesError(name, f"expected mono (n,) or multichannel (n, channels) samples, got shape {array.shape}")
        if array.shape[0] == 0:
            raise NoSamplesError(name, "the array holds zero samples")
        if array.dtype.kind == "u":
            info = np.iinfo(array.dtype)
            signal = (array.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)
        elif array.dtype.kind == "i":
            signal = array.astype(np.float64) / -float(np.iinfo(array.dtype).min)
        else:
            signal = array
        if not np.isfinite(signal).all():
            raise InvalidSamplesError(name, "the samples hold NaN or infinite values")
        if self.max_duration is not None and signal.shape[0] / sr > self.max_duration:
            raise AudioTooLongError(
                name, f"the audio lasts {signal.shape[0] / sr:.1f} s, longer than the limit of {self.max_duration:.0f} s"
            )
        signal = np.ascontiguousarray(signal, dtype=np.float32)
        if sr != SAMPLE_RATE:
            import soxr

            signal = soxr.resample(signal, sr, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
        return signal
