"""Where someone speaks: Silero VAD (MIT, its ONNX model ships in ``ser/pretrained/vad``).

    >>> import numpy as np
    >>> detector = SpeechDetector.from_pretrained()
    >>> detector.regions(np.zeros(16000 * 3, np.float32))   # 3 s of digital silence
    []

The model is a small recurrent network that gives one speech probability per 32 ms frame
(512 samples at 16 kHz, each seen with the 64 samples before it). Unlike an energy threshold it
tells speech from steady or faint noise, so silence and background noise around an utterance
are never sent to the emotion model and a recording without speech is recognised as such.
The sequence export of the model runs a whole block of frames in one onnxruntime call, with its
recurrent state carried from block to block, so a file is scanned at several hundred times real
time in a few megabytes whatever its length, and a live stream gives the same frames as a file.

Frames become regions with hysteresis, as Silero's own post-processing does: a region opens
when the probability reaches `threshold` and closes when it stays below ``threshold - 0.15`` for
`min_silence` seconds; regions shorter than `min_speech` are dropped; each is widened by `pad`.
The defaults keep breaths inside a sentence together (0.3 s) and leave word edges intact (0.1 s).

Silero's probabilities fall for very quiet speech: a RAVDESS clip at -50 dBFS, or a recording 12 dB
under its usual level, reads as no speech (benchmarks/robustness.md). So the detector, and only the
detector, hears the signal through an automatic gain: each frame is raised so that the loudest
recent frame (a peak hold that falls `RELEASE_DB_PER_S`) sits at `LEVEL_DBFS`, by at most
``VadOptions.max_gain_db`` and never lowered. The emotion model still gets the samples as they are. The gain
depends only on frames already seen, so a file read in blocks and a live stream get the same
probabilities; steady noise raised this way is still not speech to Silero (tests/inference/test_timeline.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np

SAMPLE_RATE = 16000
FRAME = 512  # samples per probability: 32 ms
CONTEXT = 64  # samples of the previous frame each frame is seen with
FRAME_S = FRAME / SAMPLE_RATE
_BLOCK_FRAMES = 512  # frames per onnxruntime call (16.4 s)
LEVEL_DBFS = -25.0  # where the detector's gain puts the loudest recent frame (RMS)
INITIAL_PEAK_DBFS = -35.0  # until louder frames are heard: faint noise before the first word is raised by 20 dB, not 30
RELEASE_DB_PER_S = 6.0  # how fast the held peak falls: a pause between sentences raises the gain by a few dB


@dataclass(frozen=True)
class VadOptions:
    """How frame probabilities become speech regions (seconds; probabilities in [0, 1])."""

    threshold: float = 0.5
    min_speech: float = 0.25
    min_silence: float = 0.3
    pad: float = 0.1
    max_gain_db: float = 30.0  # the detector's automatic gain (module docstring); 0 hears the signal as it is

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        for key in ("min_speech", "min_silence", "pad", "max_gain_db"):
            if getattr(self, key) < 0:
                unit = "dB" if key == "max_gain_db" else "seconds"
                raise ValueError(f"{key} must be >= 0 {unit}, got {getattr(self, key)}")


def default_vad_path() -> Path:
    return Path(str(resources.files("ser").joinpath("pretrained", "vad", "silero_vad.onnx")))


class SpeechDetector:
    """Silero VAD on onnxruntime: speech probabilities and regions of 16 kHz mono signals."""

    def __init__(self, path: str | Path | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a small recurrent net: a second thread only adds overhead
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.path = Path(path) if path is not None else default_vad_path()
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    @classmethod
    def from_pretrained(cls) -> "SpeechDetector":
        """The detector shipped with ser (one per process: it is stateless and thread-safe)."""
        global _SHARED
        if _SHARED is None:
            _SHARED = cls()
        return _SHARED

    def tracker(self, max_gain_db: float = VadOptions.max_gain_db) -> "SpeechTracker":
        """A `SpeechTracker` that takes a signal piece by piece (files in blocks, live streams)."""
        return SpeechTracker(self, max_gain_db)

    def probabilities(self, signal: np.ndarray, max_gain_db: float = VadOptions.max_gain_db) -> np.ndarray:
        """Speech probability of each 32 ms frame of `signal`: shape (ceil(n / 512),), float32."""
        tracker = self.tracker(max_gain_db)
        return np.concatenate([tracker.push(signal), tracker.finish()])

    def regions(self, signal: np.ndarray, options: VadOptions = VadOptions()) -> list[tuple[float, float]]:
        """``(start_s, end_s)`` of each speech region of a 16 kHz mono signal, in time order."""
        return speech_regions(self.probabilities(signal, options.max_gain_db), signal.shape[0] / SAMPLE_RATE, options)

    def _run(self, frames: np.ndarray, state: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, tuple]:
        """Probabilities of frames [n, CONTEXT + FRAME] and the recurrent state after them."""
        probs, h, c = self.session.run(None, {"input": frames, "h": state[0], "c": state[1]})
        return probs.astype(np.float32).reshape(-1), (h, c)


_SHARED: SpeechDetector | None = None


class SpeechTracker:
    """Frame probabilities of a signal given in pieces of any length, the same as for the whole.

    ``push(samples)`` returns the probabilities of the frames completed so far; ``finish()``
    zero-pads the last partial frame and returns its probability (once).
    """

    def __init__(self, detector: SpeechDetector, max_gain_db: float = VadOptions.max_gain_db):
        self.detector = detector
        self.max_gain_db = max_gain_db
        self._state = (np.zeros((1, 1, 128), np.float32), np.zeros((1, 1, 128), np.float32))
        self._context = np.zeros(CONTEXT, np.float32)
        self._rest = np.zeros(0, np.float32)
        self._peak_db = INITIAL_PEAK_DBFS  # the held peak frame level after the last frame scored, dBFS
        self.frames = 0  # frames scored so far

    def push(self, samples: np.ndarray) -> np.ndarray:
        samples = np.concatenate([self._rest, np.asarray(samples, dtype=np.float32).reshape(-1)])
        n = samples.shape[0] // FRAME
        self._rest = samples[n * FRAME :]
        return self._score(samples[: n * FRAME].reshape(n, FRAME))

    def finish(self) -> np.ndarray:
        if self._rest.shape[0] == 0:
            return np.zeros(0, np.float32)
        last = np.zeros((1, FRAME), np.float32)
        last[0, : self._rest.shape[0]] = self._rest
        self._rest = np.zeros(0, np.float32)
        return self._score(last)

    def _score(self, frames: np.ndarray) -> np.ndarray:
        if frames.shape[0] == 0:
            return np.zeros(0, np.float32)
        out = []
        for start in range(0, frames.shape[0], _BLOCK_FRAMES):
            block = frames[start : start + _BLOCK_FRAMES]
            contexts = np.empty((block.shape[0], CONTEXT), np.float32)
            contexts[0] = self._context
            contexts[1:] = block[:-1, -CONTEXT:]
            self._context = block[-1, -CONTEXT:].copy()
            rows = np.concatenate([contexts, block], axis=1)
            rows *= self._gains(block)[:, None]
            probs, self._state = self.detector._run(rows, self._state)
            out.append(probs)
        self.frames += frames.shape[0]
        return np.concatenate(out)

    def _gains(self, block: np.ndarray) -> np.ndarray:
        """The detector's linear gain for each frame of `block` [n, FRAME], and the held peak updated.

        With r the fall per frame, the hold after frame t of the block is
        ``max(carried - r t, max over j <= t of (level_j - r (t - j)))`` = ``max(carried, level_j + r j) - r t``:
        one cumulative maximum for the whole block.
        """
        with np.errstate(divide="ignore"):
            level = 10.0 * np.log10(np.mean(np.square(block, dtype=np.float64), axis=1))
        fall = RELEASE_DB_PER_S * FRAME_S * np.arange(1, block.shape[0] + 1)
        held = np.maximum.accumulate(np.concatenate([[self._peak_db], level + fall]))[1:] - fall
        self._peak_db = float(held[-1])
        gain_db = np.clip(LEVEL_DBFS - held, 0.0, self.max_gain_db)
        gain_db[~np.isfinite(held)] = 0.0  # digital silence so far: nothing to raise
        return (10.0 ** (gain_db / 20.0)).astype(np.float32)


def speech_regions(probs: np.ndarray, duration_s: float, options: VadOptions = VadOptions()) -> list[tuple[float, float]]:
    """Speech regions ``[(start_s, end_s), ...]`` from frame probabilities (one per 32 ms).

    Hysteresis (open at ``threshold``, close below ``threshold - 0.15`` held for ``min_silence``),
    regions shorter than ``min_speech`` dropped, each widened by ``pad`` and clipped to
    ``[0, duration_s]``; regions that overlap after padding are joined.
    """
    return list(_regions(probs, duration_s, options))


def _regions(probs: np.ndarray, duration_s: float, options: VadOptions) -> Iterator[tuple[float, float]]:
    low = max(options.threshold - 0.15, 0.01)
    close_after = max(1, int(round(options.min_silence / FRAME_S)))
    raw: list[tuple[int, int]] = []
    start = None
    quiet = 0
    for i, p in enumerate(np.asarray(probs, dtype=np.float32)):
        if start is None:
            if p >= options.threshold:
                start, quiet = i, 0
        elif p < low:
            quiet += 1
            if quiet >= close_after:
                raw.append((start, i - quiet + 1))
                start = None
        else:
            quiet = 0
    if start is not None:
        raw.append((start, len(probs) - quiet))
    merged: list[list[float]] = []
    for a, b in raw:
        if (b - a) * FRAME_S < options.min_speech:
            continue
        lo, hi = max(0.0, a * FRAME_S - options.pad), min(duration_s, b * FRAME_S + options.pad)
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    for lo, hi in merged:
        if hi > lo:
            yield round(lo, 3), round(hi, 3)


def trim_to_speech(signal: np.ndarray, detector: SpeechDetector | None = None, options: VadOptions = VadOptions()) -> np.ndarray:
    """`signal` from the start of its first speech region to the end of its last (16 kHz mono).

    What a model should be trained on when the `Recognizer` judges detected speech: the same
    stretch of the clip (for a clip of one utterance, exactly the piece it judges). A clip in
    which no speech is found is returned whole, so no training example is lost.
    """
    regions = (detector or SpeechDetector.from_pretrained()).regions(signal, options)
    if not regions:
        return signal
    start, end = int(regions[0][0] * SAMPLE_RATE), int(regions[-1][1] * SAMPLE_RATE)
    return signal[start:end]
