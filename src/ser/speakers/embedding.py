"""Who is speaking, as a vector: Resemblyzer's voice encoder in ONNX with a numpy front end.

    >>> encoder = VoiceEncoder.from_pretrained()
    >>> a, b = encoder.embed(clip_a), encoder.embed(clip_b)      # 16 kHz float signals
    >>> float(a @ b)                                             # cosine similarity, in [0, 1]
    0.87

The model (`ser/pretrained/speaker/`, Apache-2.0, see its MODEL_CARD.md): a 3-layer LSTM over
40-band mel *power* frames (not log: 25 ms Hann window, 10 ms hop, 16 kHz, Slaney mel filters,
centred with zero padding, as ``librosa.feature.melspectrogram`` computes them), run on 160-frame
"partials" (1.6 s); its output is a 256-value embedding of unit length whose values are all
>= 0, so the cosine similarity of two embeddings (their dot product) lies in [0, 1].

As in Resemblyzer, a signal quieter than -30 dBFS (RMS) is first raised to -30 dBFS (louder
ones are left as they are: the model saw them that way), and an utterance's embedding is the
normalised mean of the embeddings of partials taken every 0.77 s (``rate=1.3`` per second);
the last partial is kept when at least 3/4 of it is audio, and a signal shorter than one partial
is zero-padded to 1.6 s. `VoiceEncoder.embed` equals Resemblyzer's ``embed_utterance`` on the
same samples (Resemblyzer also cuts silences longer than ~0.2 s with webrtcvad first; here the
caller decides what audio to embed, usually the speech a detector found).

Only numpy and onnxruntime run here; torch is needed once, to export the graph
(`ser.speakers.export`).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ser.errors import ModelError, SerError
from ser.features.logmel import mel_filters

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
PARTIAL_S = PARTIAL_FRAMES * HOP / SAMPLE_RATE
EMBEDDING_SIZE = 256
TARGET_DBFS = -30.0
PARTIAL_RATE = 1.3  # partials per second in `embed`
MIN_COVERAGE = 0.75


class SpeakerError(SerError):
    """Input the speaker tools cannot use (not a 1-D signal, no samples, bad parameters)."""


def check_signal(signal: np.ndarray, name: str = "signal") -> np.ndarray:
    """`signal` as a 1-D float32 array of finite samples with at least one sample, else SpeakerError."""
    array = np.asarray(signal)
    if array.ndim != 1:
        raise SpeakerError(f"{name}: expected a 1-D 16 kHz signal, got an array of shape {array.shape}")
    if array.shape[0] == 0:
        raise SpeakerError(f"{name}: no samples")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise SpeakerError(f"{name}: holds NaN or infinite samples")
    return array


def normalize_volume(signal: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise `signal` (float, full scale 1.0) to an RMS of `target_dbfs` if it is quieter; never lowers it.

    A signal of digital silence is returned as it is.
    """
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
    if rms == 0.0:
        return signal
    change_db = target_dbfs - 20.0 * np.log10(rms)
    return signal if change_db <= 0 else (signal * np.float32(10 ** (change_db / 20))).astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    # Periodic Hann, as scipy.signal.get_window("hann", 400) that librosa uses.
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


@lru_cache(maxsize=1)
def _filters_t() -> np.ndarray:
    return np.ascontiguousarray(mel_filters(SAMPLE_RATE, N_FFT, N_MELS).T)  # (201, 40)


# Most frames per mel-projection product: larger products wake OpenBLAS's thread pool, which
# costs far more than the product itself on a busy machine (see ser.features.logmel).
_MEL_CHUNK = 16
_FFT_BLOCK = 2048  # frames per FFT (20 s of audio, ~7 MB of spectrum)


def mel_power(signal: np.ndarray) -> np.ndarray:
    """Mel power frames of a 16 kHz signal, shape (1 + len(signal) // 160, 40), float32.

    Frame i is centred on sample 160 i (the signal zero-padded by 200 samples on each side),
    as ``librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40).T``.
    """
    padded = np.pad(np.asarray(signal, dtype=np.float32), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    mel = np.empty((frames.shape[0], N_MELS), dtype=np.float32)
    for block in range(0, frames.shape[0], _FFT_BLOCK):  # bounded memory for long signals
        spectrum = np.fft.rfft(frames[block : block + _FFT_BLOCK] * _window(), axis=-1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        for start in range(0, power.shape[0], _MEL_CHUNK):
            np.matmul(power[start : start + _MEL_CHUNK], _filters_t(), out=mel[block + start : block + start + _MEL_CHUNK])
    return mel


def partial_starts(n_samples: int, rate: float = PARTIAL_RATE, min_coverage: float = MIN_COVERAGE) -> list[int]:
    """First mel frame of each 160-frame partial of an utterance of `n_samples` (Resemblyzer's
    ``compute_partial_slices``): every ``round(100 / rate)`` frames, at least one, the last kept
    only if `min_coverage` of it is audio (or it is the only one)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round(SAMPLE_RATE / rate / HOP))
    if not 0 < step <= PARTIAL_FRAMES:
        raise SpeakerError(f"rate={rate}: partials would be {step} frames apart (1 to {PARTIAL_FRAMES} allowed)")
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    return starts


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows (or one vector) scaled to unit length, float32; a zero row stays zero."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def window_spans(n_samples: int, window: int, hop: int) -> list[tuple[int, int]]:
    """Sample spans of `window`-sample windows every `hop` covering ``[0, n_samples)``; the last
    one ends at the end. A signal no longer than one window is one span of the whole signal."""
    if n_samples <= window:
        return [(0, n_samples)]
    spans = [(a, a + window) for a in range(0, n_samples - window + 1, hop)]
    if spans[-1][1] < n_samples:
        spans.append((n_samples - window, n_samples))
    return spans


class VoiceEncoder:
    """Speaker embeddings of 16 kHz float signals (see the module docstring).

    `path` is the ONNX file (default: the shipped one); `threads` the onnxruntime threads
    (default 1: the LSTM's per-step products are small, and on the 2-core benchmark machine one
    thread used less CPU and less wall time than two; benchmarks/speakers.md); `batch_size`
    partials per ONNX call.
    """

    sample_rate = SAMPLE_RATE
    embedding_size = EMBEDDING_SIZE
    partial_s = PARTIAL_S

    def __init__(self, path: str | os.PathLike | None = None, *, threads: int | None = None, batch_size: int = 64):
        import onnxruntime as ort

        self.path = Path(path) if path is not None else default_model_path()
        if not self.path.is_file():
            raise ModelError(f"{self.path}: speaker model not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 1
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
            raise ModelError(f"{self.path}: not a readable ONNX speaker model ({exc})") from exc
        self.batch_size = int(batch_size)
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, *, threads: int | None = None, batch_size: int = 64) -> "VoiceEncoder":
        """The shipped encoder (Resemblyzer 0.1.4's weights)."""
        return cls(default_model_path(), threads=threads, batch_size=batch_size)

    def __repr__(self) -> str:
        return f"VoiceEncoder({str(self.path)!r})"

    def embed_mels(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings [n, 256] (unit length) of mel partials [n, frames, 40]."""
        mels = np.ascontiguousarray(mels, dtype=np.float32)
        out = np.empty((mels.shape[0], EMBEDDING_SIZE), dtype=np.float32)
        with self._lock:  # one call at a time: the session already uses every core
            for i in range(0, mels.shape[0], self.batch_size):
                out[i : i + self.batch_size] = self._session.run(None, {"mels": mels[i : i + self.batch_size]})[0]
        return out

    def embed(self, signal: np.ndarray) -> np.ndarray:
        """Embedding [256] (unit length, float32) of one utterance: 16 kHz float samples, any length."""
        return self.embed_batch([signal])[0]

    def embed_batch(self, signals: list[np.ndarray]) -> np.ndarray:
        """`embed` of each signal, [len(signals), 256]; the partials of all run in shared batches."""
        mels, owners = [], []
        for index, signal in enumerate(signals):
            signal = normalize_volume(check_signal(signal, f"signal {index}"))
            starts = partial_starts(signal.shape[0])
            last = starts[-1] + PARTIAL_FRAMES
            padded = np.pad(signal, (0, max(0, last * HOP - signal.shape[0])))
            frames = mel_power(padded)
            mels += [frames[s : s + PARTIAL_FRAMES] for s in starts]
            owners += [index] * len(starts)
        if not mels:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        partials = self.embed_mels(np.stack(mels))
        sums = np.zeros((len(signals), EMBEDDING_SIZE), np.float64)
        np.add.at(sums, np.asarray(owners), partials)
        return unit_rows(sums)

    def embed_windows(self, signal: np.ndarray, window_s: float = PARTIAL_S, hop_s: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of sliding windows over one 16 kHz signal.

        Windows of `window_s` seconds start every `hop_s` seconds; the last ends at the signal's
        end; a signal shorter than `window_s` is one window (zero-padded to 1.6 s inside the
        model's partial). The signal is raised to -30 dBFS as a whole (see `normalize_volume`),
        so a quiet stretch stays quiet next to a loud one. A window longer than 1.6 s averages
        the partials inside it, taken every `hop_s` (at most 1.6 s apart).

        Returns ``(times, embeddings)``: times [n, 2] float64, each window's start and end in
        seconds; embeddings [n, 256] float32, unit length.
        """
        signal = normalize_volume(check_signal(signal))
        plan = WindowPlan.of(signal, window_s, hop_s)
        return plan.times(), plan.embeddings(self.embed_mels(plan.mels))


@dataclass(frozen=True)
class WindowPlan:
    """The 1.6 s partials that sliding windows over one signal need, each computed once.

    spans : [(start, end)] window sample spans (starts on 10 ms frames); mels : [p, 160, 40]
    the distinct partials, cut from the mel frames of the whole signal (as Resemblyzer cuts an
    utterance's partials); members : for each window, the rows of `mels` it averages.
    """

    spans: list[tuple[int, int]]
    mels: np.ndarray
    members: list[list[int]]

    @classmethod
    def of(cls, signal: np.ndarray, window_s: float, hop_s: float) -> "WindowPlan":
        if not (window_s > 0 and hop_s > 0):
            raise SpeakerError(f"window_s and hop_s must be positive, got window_s={window_s}, hop_s={hop_s}")
        window = HOP * max(1, int(round(window_s * SAMPLE_RATE / HOP)))
        hop = HOP * max(1, int(round(hop_s * SAMPLE_RATE / HOP)))
        spans = window_spans(signal.shape[0], window, hop)
        partial = PARTIAL_FRAMES * HOP
        step = min(hop, partial)
        # Partial starts as mel frame indices; a window's last partial is moved back onto a frame.
        firsts = [sorted({(a + s) // HOP for s, _ in window_spans(b - a, partial, step)}) for a, b in spans]
        starts = sorted({f for window_firsts in firsts for f in window_firsts})
        row = {f: i for i, f in enumerate(starts)}
        frames = mel_power(np.pad(signal, (0, partial)))
        mels = np.stack([frames[f : f + PARTIAL_FRAMES] for f in starts])
        return cls(spans, mels, [[row[f] for f in window_firsts] for window_firsts in firsts])

    def times(self, offset_s: float = 0.0) -> np.ndarray:
        """[n, 2] start and end of each window in seconds (plus `offset_s`)."""
        return np.asarray(self.spans, dtype=np.float64).reshape(-1, 2) / SAMPLE_RATE + offset_s

    def embeddings(self, partials: np.ndarray) -> np.ndarray:
        """[n, 256] unit embeddings of the windows, from the partials' embeddings [p, 256]."""
        return unit_rows(np.stack([partials[rows].mean(axis=0) for rows in self.members]))


_SHARED: VoiceEncoder | None = None
_SHARED_LOCK = threading.Lock()


def shared_encoder() -> VoiceEncoder:
    """The shipped encoder, loaded once per process (its calls are serialised, so threads may share it)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = VoiceEncoder.from_pretrained()
        return _SHARED


def default_model_path() -> Path:
    """The shipped ONNX voice encoder inside the installed package."""
    return Path(str(resources.files("ser") / "pretrained" / "speaker" / "model.onnx"))
