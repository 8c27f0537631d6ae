"""Live prediction: feed successive PCM chunks, get one update per hop once a window is full.

    stream = recognizer.stream(sr=16000, window=2.0, hop=1.0)
    for chunk in microphone_chunks():            # int16 bytes or a numpy array, any size
        for update in stream.feed(chunk):
            print(update.start_s, update.end_s, update.prediction.label, update.is_speech)
    for update in stream.flush():                # the last, partly new window
        ...

The windows are exactly those of ``recognizer.timeline(audio, vad=False, window=..., hop=...)``
(`ser.inference.timeline.sliding_windows`), and a window with speech gets the same scores as
there. Memory stays constant: samples live in a ring buffer of one window.

``is_speech`` comes from the same speech detector as files (`ser.inference.vad`), run on the
stream as it arrives: a window is speech when at least `MIN_SPEECH_S` of it is. A window without
speech is reported with no label (``Prediction.no_speech``), never forced into an emotion.
With ``adapt=True`` every speech window's embedding joins a running profile of the session's
voice, and each window is judged against it (`ser.inference.profile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ser.audio import MAX_PEAK
from ser.inference.timeline import SAMPLE_RATE
from ser.inference.vad import FRAME, FRAME_S

from ser.inference.prediction import MIN_SPEECH_S, Prediction

if TYPE_CHECKING:
    from ser.inference.recognizer import Recognizer


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
    recognizer : the `ser.inference.recognizer.Recognizer` whose model and detector judge the windows.
    sr : sample rate of the chunks in Hz; other rates than 16 kHz are resampled on the fly (soxr).
    window, hop : window length and step in seconds.
    adapt : judge each window against a running profile of the session's speech.
    """

    def __init__(self, recognizer: Recognizer, *, sr: int = SAMPLE_RATE, window: float = 2.0, hop: float = 1.0, adapt: bool = False):
        if window <= 0 or hop <= 0:
            raise ValueError(f"window and hop must be positive, got window={window}, hop={hop}")
        if int(sr) <= 0:
            raise ValueError(f"sr must be a positive sample rate, got {sr}")
        self.recognizer = recognizer
        self.backend = recognizer.backend
        self.sr = int(sr)
        self.window = int(round(window * SAMPLE_RATE))
        self.hop = int(round(hop * SAMPLE_RATE))
        self.adapt = adapt
        self.profile = recognizer._empty_profile() if adapt else None
        self._ring = np.zeros(self.window, dtype=np.float32)
        self._total = 0  # samples (at 16 kHz) received so far
        self._next_end = self.window  # where the next full window ends
        self._emitted_end = 0  # end of the last window reported
        self._pending = b""  # an odd trailing byte of a bytes chunk
        # Speech probability of every 32 ms frame of the last window (and a little more).
        self._tracker = recognizer._detector.tracker(recognizer.vad_options.max_gain_db) if recognizer._detector is not None else None
        self._frame_probs = np.zeros(0, np.float32)
        self._frames_start = 0  # index of the first frame held in _frame_probs
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
        if self._tracker is not None:
            self._frame_probs = np.concatenate([self._frame_probs, self._tracker.finish()])
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
        if self._tracker is not None:
            self._frame_probs = np.concatenate([self._frame_probs, self._tracker.push(samples)])
            # Frames wholly before any window still to come are no longer needed.
            drop = max(0, (self._total - self.window - FRAME) // FRAME - self._frames_start)
            if drop:
                self._frame_probs = self._frame_probs[drop:]
                self._frames_start += drop

    def _window_samples(self) -> np.ndarray:
        """The last `window` samples in time order (the ring is full when this is called)."""
        pos = self._total % self.window
        return np.concatenate([self._ring[pos:], self._ring[:pos]])

    def _speech_s(self, start: int, end: int) -> float:
        """Seconds of speech the detector found in samples ``[start, end)`` (all of it without one)."""
        if self._tracker is None:
            return (end - start) / SAMPLE_RATE
        first = max(0, start // FRAME - self._frames_start)
        last = max(0, -(-end // FRAME) - self._frames_start)
        threshold = self.recognizer.vad_options.threshold
        return float(np.count_nonzero(self._frame_probs[first:last] >= threshold)) * FRAME_S

    def _predict(self, samples: np.ndarray, start: int, end: int) -> StreamUpdate:
        duration, speech_s = (end - start) / SAMPLE_RATE, self._speech_s(start, end)
        is_speech = speech_s >= MIN_SPEECH_S
        if not is_speech:
            prediction = Prediction.no_speech(duration, speech_s)
        elif getattr(self.backend, "can_adapt", False):
            embedding = self.backend.embed([samples])
            centre, adaptation = None, None
            if self.profile is not None:
                self.profile.add(embedding[0], speech_s)
                centre = self.recognizer._profile_centre(self.profile)
                adaptation = {"group": "session", "clips": self.profile.clips}
            probs = self.backend.scores(embedding, centre, adapted=centre is not None)[0]
            prediction = Prediction.from_scores(self.backend.labels, probs, duration, speech_s, adaptation=adaptation)
        else:
            probs = self.backend.predict_proba([samples])[0]
            prediction = Prediction.from_scores(self.backend.labels, probs, duration, speech_s)
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
        if array.size and float(np.abs(array).max()) > MAX_PEAK:
            raise ValueError(f"the chunk's samples reach {float(np.abs(array).max()):.3g}, far beyond full scale (±1); float samples must be in [-1, 1]")
        return array
