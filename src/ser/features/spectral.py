"""Frame-level spectral features (MFCC, chroma, log-mel, ZCR, RMS, ...) from one STFT.

The classic SER recipe calls ``librosa.feature.mfcc(y=...)``, ``chroma_stft(y=...)`` and
``melspectrogram(y=...)`` one after another; each computes its own STFT and rebuilds its own
filter bank. `extract_frames` computes ``|STFT|`` once per clip, keeps the mel and chroma filter
banks in a per-process cache, and hands the precomputed spectrogram to librosa's own functions,
so every value equals what those functions return for the same parameters (tests check this)
while a clip costs a third of the time (``benchmarks/features.md``).

Shapes and units of every feature are in ``docs/features.md``. Frames follow librosa's defaults:
centred frames (``center=True``), so a clip of ``n`` samples has ``1 + n // hop_length`` frames,
frame ``t`` centred on sample ``t * hop_length``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, Callable, Mapping

import librosa
import numpy as np

from ser.errors import SerError

# Bump when a feature's definition changes, so that caches keyed by `FeatureConfig.key` go stale.
FEATURES_VERSION = 1

# librosa.feature.spectral_contrast's default: 6 octave bands from 200 Hz, plus the residual band.
CONTRAST_BANDS = 6

STATS = ("mean", "std", "min", "max", "median", "skew", "kurtosis")


@dataclass(frozen=True)
class FeatureConfig:
    """Which frame-level features to compute, and with what STFT.

    names : blocks of columns, in output order; any of `FEATURES`.
    sample_rate : Hz of the input signal.
    n_fft : STFT size in samples (also the frame length of ZCR and RMS); Hann window.
    hop_length : samples between frames.
    n_mfcc, n_mels, n_chroma : sizes of those blocks (MFCCs are the DCT of the ``n_mels`` log-mel).
    stats : pooling statistics used by `extract_pooled`; any of `STATS`.
    delta_width : frames in librosa's Savitzky-Golay delta window (odd, >= 3).
    chroma_tuning : offset of the chroma bins from A440 equal temperament, in fractions of a bin.
        0.0 (default) keeps every clip's bins on the same frequencies; None estimates it per clip
        as ``librosa.feature.chroma_stft`` does by default. That estimate is meant for tuned music:
        on speech it follows the speaker's pitch, so the same chroma column would cover different
        frequencies in different clips, and it costs as much as the rest of the features together.
    """

    names: tuple[str, ...] = ("zcr", "rms", "mfcc", "chroma", "logmel")
    sample_rate: int = 16000
    n_fft: int = 2048
    hop_length: int = 512
    n_mfcc: int = 40
    n_mels: int = 128
    n_chroma: int = 12
    stats: tuple[str, ...] = ("mean", "std")
    delta_width: int = 9
    chroma_tuning: float | None = 0.0

    def __post_init__(self) -> None:
        # Lists come from YAML/JSON; store tuples so the config stays hashable.
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "stats", tuple(self.stats))
        _check_choices("feature", self.names, FEATURES)
        _check_choices("statistic", self.stats, STATS)
        for name in ("sample_rate", "n_fft", "hop_length", "n_mfcc", "n_mels", "n_chroma"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise SerError(f"feature config: {name} must be a positive integer, not {value!r}")
        if self.n_mfcc > self.n_mels:
            raise SerError(f"feature config: n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        if self.delta_width < 3 or self.delta_width % 2 == 0:
            raise SerError(f"feature config: delta_width must be odd and >= 3, not {self.delta_width}")
        if self.chroma_tuning is not None and not -0.5 <= self.chroma_tuning < 0.5:
            raise SerError(f"feature config: chroma_tuning must lie in [-0.5, 0.5), not {self.chroma_tuning}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FeatureConfig":
        """Build from a dict such as a YAML section; unknown keys are an error, missing ones default."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SerError(f"feature config: unknown key(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    def key(self) -> str:
        """Stable 16-hex-digit hash of everything that changes the values (for feature caches)."""
        payload = {"version": FEATURES_VERSION, "librosa": _librosa_minor(), **self.to_dict()}
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _check_choices(what: str, chosen: tuple[str, ...], allowed) -> None:
    if not chosen:
        raise SerError(f"feature config: give at least one {what}")
    for name in chosen:
        if name not in allowed:
            raise SerError(f"feature config: unknown {what} {name!r}; choose from {sorted(allowed)}")
    if len(set(chosen)) != len(chosen):
        raise SerError(f"feature config: a {what} is listed twice in {list(chosen)}")


def _librosa_minor() -> str:
    return ".".join(librosa.__version__.split(".")[:2])


# Number of columns each feature adds, given the config.
FEATURES: dict[str, Callable[[FeatureConfig], int]] = {
    "zcr": lambda c: 1,
    "rms": lambda c: 1,
    "mfcc": lambda c: c.n_mfcc,
    "mfcc_delta": lambda c: c.n_mfcc,
    "mfcc_delta2": lambda c: c.n_mfcc,
    "chroma": lambda c: c.n_chroma,
    "logmel": lambda c: c.n_mels,
    "spectral_centroid": lambda c: 1,
    "spectral_bandwidth": lambda c: 1,
    "spectral_rolloff": lambda c: 1,
    "spectral_flatness": lambda c: 1,
    "spectral_contrast": lambda c: CONTRAST_BANDS + 1,
}


def feature_dims(config: FeatureConfig) -> list[tuple[str, int]]:
    """``[(name, n_columns), ...]`` in the column order of `extract_frames`."""
    return [(name, FEATURES[name](config)) for name in config.names]


def feature_names(config: FeatureConfig) -> list[str]:
    """One name per column of `extract_frames`: ``zcr``, ``mfcc_0`` ... ``mfcc_39``, ..."""
    names = []
    for name, dims in feature_dims(config):
        names += [name] if dims == 1 else [f"{name}_{i}" for i in range(dims)]
    return names


def pooled_names(config: FeatureConfig) -> list[str]:
    """One name per entry of `extract_pooled`: ``mfcc_0_mean``, ..., statistic-major like `pool`."""
    return [f"{column}_{stat}" for stat in config.stats for column in feature_names(config)]


@lru_cache(maxsize=16)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    basis.setflags(write=False)
    return basis


@lru_cache(maxsize=256)
def _chroma_basis(sr: int, n_fft: int, n_chroma: int, tuning: float) -> np.ndarray:
    # The tuning estimate is a histogram bin (steps of 0.01), so about 100 distinct values occur.
    basis = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=n_chroma)
    basis.setflags(write=False)
    return basis


def extract_frames(signal: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Frame-level features of one clip.

    Parameters
    ----------
    signal : shape (n_samples,), float, mono at ``config.sample_rate`` Hz, at least one sample.
    config : which features, STFT size and hop.

    Returns
    -------
    np.ndarray, shape (1 + n_samples // hop_length, n_dims), float32; column blocks in the order
    of ``config.names`` (see `feature_dims`). Each block equals librosa's function with the same
    parameters: ``zero_crossing_rate(y, frame_length=n_fft)``, ``rms(y=y, frame_length=n_fft)``,
    ``mfcc(y=y, n_mfcc, n_mels)``, ``delta(mfcc, order=1|2)``, ``chroma_stft(y=y, n_chroma)``,
    ``power_to_db(melspectrogram(y=y, n_mels))``, ``spectral_*(y=y)``; transposed to
    (frames, dims).
    """
    y = _check_signal(signal)
    c = config
    cache: dict[str, np.ndarray] = {}

    def magnitude() -> np.ndarray:  # |STFT|, (1 + n_fft // 2, frames): computed once
        if "magnitude" not in cache:
            with warnings.catch_warnings():
                # A clip shorter than n_fft is zero-padded, which is what we want; don't warn.
                warnings.filterwarnings("ignore", message="n_fft=.* is too large")
                cache["magnitude"] = np.abs(librosa.stft(y, n_fft=c.n_fft, hop_length=c.hop_length))
        return cache["magnitude"]

    def power() -> np.ndarray:
        if "power" not in cache:
            cache["power"] = magnitude() ** 2
        return cache["power"]

    def logmel() -> np.ndarray:
        if "logmel" not in cache:
            mel = _mel_basis(c.sample_rate, c.n_fft, c.n_mels) @ power()
            cache["logmel"] = librosa.power_to_db(mel)
        return cache["logmel"]

    def mfcc() -> np.ndarray:
        if "mfcc" not in cache:
            cache["mfcc"] = librosa.feature.mfcc(S=logmel(), n_mfcc=c.n_mfcc)
        return cache["mfcc"]

    def chroma() -> np.ndarray:
        S = power()
        tuning = c.chroma_tuning
        if tuning is None:
            tuning = float(librosa.estimate_tuning(S=S, sr=c.sample_rate, bins_per_octave=c.n_chroma))
        raw = _chroma_basis(c.sample_rate, c.n_fft, c.n_chroma, tuning) @ S
        return librosa.util.normalize(raw, norm=np.inf, axis=-2)

    def centroid() -> np.ndarray:
        if "centroid" not in cache:
            cache["centroid"] = librosa.feature.spectral_centroid(S=magnitude(), sr=c.sample_rate)
        return cache["centroid"]

    compute: dict[str, Callable[[], np.ndarray]] = {
        "zcr": lambda: _zero_crossing_rate(y, c.n_fft, c.hop_length),
        "rms": lambda: librosa.feature.rms(y=y, frame_length=c.n_fft, hop_length=c.hop_length),
        "mfcc": mfcc,
        "mfcc_delta": lambda: _delta(mfcc(), c.delta_width, order=1),
        "mfcc_delta2": lambda: _delta(mfcc(), c.delta_width, order=2),
        "chroma": chroma,
        "logmel": logmel,
        "spectral_centroid": centroid,
        "spectral_bandwidth": lambda: librosa.feature.spectral_bandwidth(
            S=magnitude(), sr=c.sample_rate, centroid=centroid()
        ),
        "spectral_rolloff": lambda: librosa.feature.spectral_rolloff(S=magnitude(), sr=c.sample_rate),
        "spectral_flatness": lambda: librosa.feature.spectral_flatness(S=magnitude()),
        "spectral_contrast": lambda: librosa.feature.spectral_contrast(
            S=magnitude(), sr=c.sample_rate, n_bands=CONTRAST_BANDS
        ),
    }
    blocks = [compute[name]() for name in c.names]
    return np.ascontiguousarray(np.concatenate(blocks, axis=0).T, dtype=np.float32)


def _zero_crossing_rate(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """librosa.feature.zero_crossing_rate (centred, edge padding), shape (1, frames), float64.

    librosa frames the signal first and so examines every sample frame_length / hop_length
    times; here librosa.zero_crossings runs once over the padded signal and a running sum counts
    each frame's crossings. As in librosa, the pair straddling a frame's first sample is not
    counted, so the rate is (crossings inside the frame) / frame_length.
    """
    padded = np.pad(y, frame_length // 2, mode="edge")
    crossings = librosa.zero_crossings(padded, pad=False)
    running = np.concatenate([[0], np.cumsum(crossings, dtype=np.int64)])
    starts = np.arange(1 + (padded.shape[0] - frame_length) // hop_length) * hop_length
    return ((running[starts + frame_length] - running[starts + 1]) / frame_length)[np.newaxis, :]


def _delta(data: np.ndarray, width: int, order: int) -> np.ndarray:
    """librosa.feature.delta, with the window shrunk for clips shorter than it (zeros below 3 frames).

    librosa refuses a window wider than the clip; a 9-frame window needs 0.26 s at hop 512.
    """
    n_frames = data.shape[-1]
    if n_frames < 3:
        return np.zeros_like(data)
    width = min(width, n_frames if n_frames % 2 else n_frames - 1)
    return librosa.feature.delta(data, width=width, order=order)


def _check_signal(signal: np.ndarray) -> np.ndarray:
    y = np.asarray(signal)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (n_samples,), got shape {y.shape}")
    if y.shape[0] == 0:
        raise ValueError("cannot compute features of an empty signal")
    return np.ascontiguousarray(y, dtype=np.float32)


def pool(frames: np.ndarray, stats: tuple[str, ...] = ("mean", "std")) -> np.ndarray:
    """Summarise frames over time.

    Parameters
    ----------
    frames : shape (n_frames, n_dims), at least one frame.
    stats : any of `STATS`. ``std`` is the population standard deviation; ``skew`` and ``kurtosis``
        are the biased Fisher moments (``scipy.stats.skew/kurtosis`` with ``bias=True``), taken as
        0 for a column that does not vary.

    Returns
    -------
    np.ndarray, shape (n_dims * len(stats),), float32, statistic-major:
    ``[mean of every column, std of every column, ...]``.
    """
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected frames of shape (n_frames >= 1, n_dims), got shape {x.shape}")
    _check_choices("statistic", tuple(stats), STATS)
    mean = x.mean(axis=0)
    centred = x - mean
    variance = (centred**2).mean(axis=0)
    # scipy.stats' test for a constant column, where the moment ratios are undefined.
    flat = variance <= (np.finfo(np.float64).resolution * mean) ** 2

    def moment_ratio(k: int) -> np.ndarray:
        ratio = (centred**k).mean(axis=0) / np.where(flat, 1.0, variance) ** (k / 2)
        return np.where(flat, 0.0, ratio - (3.0 if k == 4 else 0.0))

    compute = {
        "mean": lambda: mean,
        "std": lambda: np.sqrt(variance),
        "min": lambda: x.min(axis=0),
        "max": lambda: x.max(axis=0),
        "median": lambda: np.median(x, axis=0),
        "skew": lambda: moment_ratio(3),
        "kurtosis": lambda: moment_ratio(4),
    }
    return np.concatenate([compute[s]() for s in stats]).astype(np.float32)


def extract_pooled(signal: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """``pool(extract_frames(signal, config), config.stats)``: shape (n_dims * len(stats),), float32."""
    return pool(extract_frames(signal, config), config.stats)
