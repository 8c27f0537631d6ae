"""Whisper's log-mel front end in plain numpy, for clips of any length (no 30-second padding).

Matches OpenAI Whisper and transformers' ``WhisperFeatureExtractor`` on the same samples: STFT
with a periodic Hann window of 400 samples and hop 160 (centred, reflect padding, last frame
dropped), power spectrum, 80 Slaney-style mel filters, ``log10(max(mel, 1e-10))`` clamped to at
least ``max - 8``, then ``(x + 4) / 4``. The one difference is that the clamp's maximum is taken
over the clip itself rather than over 30 s of zero padding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's ``htk=False``)."""
    hz = np.asanyarray(hz, dtype=np.float64)
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    linear = hz / f_sp
    log = min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep
    return np.where(hz >= min_log_hz, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    mel = np.asanyarray(mel, dtype=np.float64)
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


@lru_cache(maxsize=8)
def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-normalised triangular mel filters, shape (n_mels, 1 + n_fft // 2), float32.

    Equal to ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)`` (fmin 0, fmax sr / 2).
    """
    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    # Periodic Hann (torch.hann_window's default), not numpy's symmetric np.hanning.
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


# Most frames per mel-projection product. OpenBLAS runs products of up to 65536 x 4 multiply-adds
# on the calling thread; bigger ones wake its thread pool, which costs far more than this small
# product when the cores are busy (onnxruntime, other clips' front ends): 16 ms instead of 0.2 ms
# for a 3 s clip on a loaded 2-core machine. 16 frames x 201 bins x 80 mels stays below.
_MEL_CHUNK = 16


def _power_frames(signal: np.ndarray, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Centred STFT power, frames first: shape (n_samples // hop_length, 1 + n_fft // 2), float32."""
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {signal.shape}")
    n_wanted = signal.shape[0] // hop_length
    pad = n_fft // 2
    if signal.shape[0] <= pad:
        signal = np.pad(signal, (0, pad + 1 - signal.shape[0]))
    padded = np.pad(signal, pad, mode="reflect")
    n_frames = 1 + (padded.shape[0] - n_fft) // hop_length
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, n_fft), strides=(padded.strides[0] * hop_length, padded.strides[0])
    )[:n_wanted]
    spectrum = np.fft.rfft(frames * _hann(n_fft), axis=-1)  # complex64: numpy >= 2 keeps float32
    parts = spectrum.view(np.float32 if spectrum.dtype == np.complex64 else np.float64)
    parts = parts.reshape(spectrum.shape[0], spectrum.shape[1], 2)
    return np.einsum("ftc,ftc->ft", parts, parts).astype(np.float32, copy=False)


def power_spectrogram(signal: np.ndarray, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Centred STFT power, shape (1 + n_fft // 2, n_samples // hop_length), float32.

    The signal is reflect-padded by n_fft // 2 on both sides (zero-padded first when it is too
    short to reflect), and the last frame is dropped, as in Whisper.
    """
    return np.ascontiguousarray(_power_frames(signal, n_fft, hop_length).T)


def log_mel_spectrogram(signal: np.ndarray, n_mels: int = N_MELS) -> np.ndarray:
    """Whisper's normalised log-mel features of a 16 kHz signal, shape (n_mels, n_frames), float32.

    ``n_frames = len(signal) // 160`` (100 frames per second); values lie roughly in [-1, 1.5].
    """
    power = _power_frames(signal)  # (frames, bins)
    filters_t = _mel_filters_t(SAMPLE_RATE, N_FFT, n_mels)
    mel = np.empty((power.shape[0], n_mels), dtype=np.float32)
    for start in range(0, power.shape[0], _MEL_CHUNK):
        np.matmul(power[start : start + _MEL_CHUNK], filters_t, out=mel[start : start + _MEL_CHUNK])
    log_spec = np.log10(np.maximum(mel, 1e-10, out=mel), out=mel)
    log_spec = np.maximum(log_spec, log_spec.max(initial=-10.0) - 8.0, out=log_spec)
    log_spec += 4.0
    log_spec /= 4.0
    return np.ascontiguousarray(log_spec.T)


@lru_cache(maxsize=8)
def _mel_filters_t(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    return np.ascontiguousarray(mel_filters(sr, n_fft, n_mels).T)
