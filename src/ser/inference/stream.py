"""Live prediction: feed successive PCM chunks, get one update per hop once a window is full.

    stream = recognizer.stream(sr=16000, window=2.0, hop=1.0)
    for chunk in microphone_chunks():            # int16 bytes or a numpy array, any size
        for update in stream.feed(chunk):
            print(update.start_s, update.end_s, update.prediction.label, update.is_speech)
    for update in stream.flush():                # the last, partly new window
        ...

The windows are exactly those of ``recognizer.timeline(audio, vad=False, window=..., hop=...)``
(`ser.inference.timeline.sliding_windows`), and their predictions match it. Memory stays constant:
samples live in a ring buffer of one window.

``is_speech`` is a causal version of the timeline's energy detector: at least 10% of the
window's 10 ms frames lie above the speech threshold computed from the loudest level heard so
far (instead of the whole recording's, which a live stream cannot know).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ser.inference.timeline import SAMPLE_RATE, frame_levels_db

if TYPE_CHECKING:
    from ser.inference.backends import Backend
    from ser.inference.recognizer import Prediction

MIN_SPEECH_FRACTION = 0.1


@dataclass(frozen=True)
class StreamUpdate:
    """The prediction over the window ``[start_s, end_s)`` of the stream (seconds from its start)."""

    start_s: float
    end_s: float
    prediction: Prediction
    is_speech: bool

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "is_speech": self.is_speech,
            **self.prediction.to_dict(),
        }


class Stream:
    """Sliding-window predictions over audio that arrives in chunks.

    Parameters
    ----------
    backend : the model (a `ser.inference.backends.Backend`).
    sr : sample rate of the chunks in Hz; other rates than 16 kHz are resampled on the fly (soxr).
    window, hop : window length and step in seconds.
    threshold_db, floor_db : the speech detector's settings (see `ser.inference.timeline`).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        sr: int = SAMPLE_RATE,
        window: float = 2.0,
        hop: float = 1.0,
        threshold_db: float = 45.0,
        floor_db: float = -70.0,
    ):
        if window <= 0 or hop <= 0:
            raise ValueError(f"window and hop must be positive, got window={window}, hop={hop}")
        if int(sr) <= 0:
            raise ValueError(f"sr must be a positive sample rate, got {sr}")
        self.backend = backend
        self.sr = int(sr)
        self.window = int(round(window * SAMPLE_RATE))
        self.hop = int(round(hop * SAMPLE_RATE))
        self.threshold_db = threshold_db
        self.floor_db = floor_db
        self._ring = np.zeros(self.window, dtype=np.float32)
        self._total = 0  # samples (at 16 kHz) received so far
        self._next_end = self.window  # where the next full window ends
        self._emitted_end = 0  # end of the last window reported
        self._peak_db = -np.inf
        self._pending = b""  # an odd trailing byte of a bytes chunk
        self._resampler = None
        if self.sr != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self.sr, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    @property
    def time_s(self) -> float:
        """Seconds of audio received so far."""
        return self._total / SAMPLE_RATE

    def feed(self, chunk: np.ndarray | bytes, dtype: str = "int16") -> list[StreamUpdate]:
        """Add a chunk of mono PCM; return the updates of every window it completes (often none).

        `chunk` is a 1-D numpy array (int16 scaled by 1/32768, or float in [-1, 1]) or raw
        little-endian bytes of `dtype` ("int16" or "float32").
        """
        samples = self._to_float(chunk, dtype)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        return self._push(samples)

    def flush(self) -> list[StreamUpdate]:
        """End of stream: the update of a last window over samples not yet covered, if any."""
        updates = []
        if self._resampler is not None:
            updates += self._push(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
            self._resampler = None
        if self._total > self._emitted_end:
            if self._total <= self.window:
                updates.append(self._predict(self._ring[: self._total], 0, self._total))
            else:
                updates.append(self._predict(self._window_samples(), self._total - self.window, self._total))
            self._emitted_end = self._total
        return updates

    def _push(self, samples: np.ndarray) -> list[StreamUpdate]:
        updates = []
        while samples.shape[0]:
            # Write up to the end of the next window, report it if complete, continue.
            take = min(samples.shape[0], self._next_end - self._total)
            self._write(samples[:take])
            samples = samples[take:]
            if self._total == self._next_end:
                updates.append(self._predict(self._window_samples(), self._total - self.window, self._total))
                self._emitted_end = self._total
                self._next_end += self.hop
        return updates

    def _write(self, samples: np.ndarray) -> None:
        # Only the last `window` samples can matter; older ones would be overwritten anyway.
        tail = samples[-self.window :]
        pos = (self._total + samples.shape[0] - tail.shape[0]) % self.window
        first = min(tail.shape[0], self.window - pos)
        self._ring[pos : pos + first] = tail[:first]
        self._ring[: tail.shape[0] - first] = tail[first:]
        self._total += samples.shape[0]

    def _window_samples(self) -> np.ndarray:
        """The last `window` samples in time order (the ring is full when this is called)."""
        pos = self._total % self.window
        return np.concatenate([self._ring[pos:], self._ring[:pos]])

    def _predict(self, samples: np.ndarray, start: int, end: int) -> StreamUpdate:
        from ser.inference.recognizer import Prediction

        levels = frame_levels_db(samples)
        self._peak_db = max(self._peak_db, float(np.percentile(levels, 99)))
        threshold = max(self._peak_db - self.threshold_db, self.floor_db)
        is_speech = bool(np.mean(levels > threshold) >= MIN_SPEECH_FRACTION)
        probs = self.backend.predict_proba([samples])[0]
        prediction = Prediction.from_scores(self.backend.labels, probs, (end - start) / SAMPLE_RATE)
        return StreamUpdate(start / SAMPLE_RATE, end / SAMPLE_RATE, prediction, is_speech)

    def _to_float(self, chunk: np.ndarray | bytes, dtype: str) -> np.ndarray:
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            if dtype not in ("int16", "float32"):
                raise ValueError(f"dtype must be 'int16' or 'float32', got {dtype!r}")
            data = self._pending + bytes(chunk)
            width = np.dtype(dtype).itemsize
            usable = len(data) - len(data) % width
            self._pending = data[usable:]
            chunk = np.frombuffer(data[:usable], dtype="<" + ("i2" if dtype == "int16" else "f4"))
        array = np.asarray(chunk)
        if array.ndim != 1:
            raise ValueError(f"a chunk must be 1-D mono samples, got shape {array.shape}")
        if array.dtype == np.int16:
            return array.astype(np.float32) / 32768.0
        if array.dtype.kind != "f":
            raise ValueError(f"a chunk must hold int16 or float samples, got {array.dtype}")
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise ValueError("the chunk holds NaN or infinite samples")
        return array
