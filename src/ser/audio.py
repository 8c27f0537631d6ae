"""Decode any common audio file into 16 kHz mono float32, or say precisely why not.

`load` is the single entry point for audio in `ser`: training, prediction and the REST service
all go through it, so every bad-input case is handled here once.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

from ser.errors import SerError

SAMPLE_RATE = 16000
DEFAULT_MAX_DURATION_S = 3 * 3600.0

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]


class AudioError(SerError):
    """The audio at `source` cannot be used; the message names it and says why."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class AudioNotFoundError(AudioError):
    """The path does not exist or is not a file."""


class EmptyAudioError(AudioError):
    """The file has 0 bytes."""


class NotAudioError(AudioError):
    """The content is not in any audio format we can decode."""


class CorruptAudioError(AudioError):
    """The content starts like audio but is truncated or unreadable."""


class NoSamplesError(AudioError):
    """The audio decodes to zero samples."""


class InvalidSamplesError(AudioError):
    """The audio holds NaN or infinite samples."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured limit."""


def load(
    source: Source,
    sr: int = SAMPLE_RATE,
    *,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    name: str | None = None,
) -> np.ndarray:
    """Decode `source` to a float32 mono signal at `sr` Hz.

    Parameters
    ----------
    source : path, bytes or binary file object, in any format libsndfile or FFmpeg (PyAV) reads
        (WAV, FLAC, OGG/Opus, MP3, AIFF, WebM, M4A/MP4 audio, ...).
    sr : target sample rate in Hz.
    max_duration : longest accepted duration in seconds (None: no limit).
    name : how to name the source in error messages (defaults to the path, or ``<bytes>``).

    Returns
    -------
    np.ndarray, shape (n_samples,), float32, channels averaged, resampled with soxr.
    Silence is valid audio and is returned as zeros.
    """
    label, data = _read_source(source, name)
    signal, native_sr = _decode(label, data)
    if signal.shape[0] == 0:
        raise NoSamplesError(label, "the audio holds zero samples")
    if max_duration is not None and signal.shape[0] / native_sr > max_duration:
        raise AudioTooLongError(
            label,
            f"the audio lasts {signal.shape[0] / native_sr:.1f} s, longer than the limit of {max_duration:.0f} s",
        )
    if signal.ndim == 2:
        signal = signal.mean(axis=1)
    if not np.isfinite(signal).all():
        raise InvalidSamplesError(label, "the audio holds NaN or infinite samples")
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    if native_sr != sr:
        import soxr

        signal = soxr.resample(signal, native_sr, sr, quality="HQ").astype(np.float32, copy=False)
    return signal


def duration(path: str | os.PathLike) -> float:
    """Duration of an audio file in seconds, from its header where possible (no full decode)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
        if info.samplerate > 0 and info.frames > 0:
            return info.frames / info.samplerate
    except (RuntimeError, sf.LibsndfileError):
        pass
    signal, native_sr = _decode(str(path), Path(path).read_bytes())
    return signal.shape[0] / native_sr


def _read_source(source: Source, name: str | None) -> tuple[str, bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        label, data = name or "<bytes>", bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or str(path)
        if not path.exists():
            raise AudioNotFoundError(label, "no such file")
        if not path.is_file():
            raise AudioNotFoundError(label, "not a file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AudioNotFoundError(label, f"cannot be read ({exc.strerror})") from None
    elif hasattr(source, "read"):
        label = name or str(getattr(source, "name", "<stream>"))
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"{label}: the file object must be opened in binary mode")
        data = bytes(data)
    else:
        raise TypeError(f"cannot load audio from a {type(source).__name__}; give a path, bytes or a binary file")
    if len(data) == 0:
        raise EmptyAudioError(label, "the file is empty (0 bytes)")
    return label, data


def _decode(label: str, data: bytes) -> tuple[np.ndarray, int]:
    """Try libsndfile first (fast, exact), then FFmpeg through PyAV for containers it lacks."""
    import soundfile as sf

    try:
        signal, native_sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
        return signal, int(native_sr)
    except (RuntimeError, sf.LibsndfileError, ValueError):
        pass
    return _decode_with_av(label, data)


def _decode_with_av(label: str, data: bytes) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, IndexError, OSError):
        raise NotAudioError(label, "not an audio file in a format we can read") from None
    with container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise NotAudioError(label, "the file holds no audio stream")
        stream = streams[0]
        chunks: list[np.ndarray] = []
        native_sr = 0
        try:
            for frame in container.decode(stream):
                native_sr = frame.sample_rate
                array = frame.to_ndarray()
                if array.dtype.kind in "iu":
                    array = array.astype(np.float32) / float(np.iinfo(array.dtype).max)
                # Planar frames are (channels, samples); packed ones (1, samples * channels).
                channels = len(frame.layout.channels)
                if frame.format.is_planar:
                    array = array.T
                else:
                    array = array.reshape(-1, channels)
                chunks.append(array.astype(np.float32, copy=False))
        except (av.error.FFmpegError, ValueError) as exc:
            if not chunks:
                raise CorruptAudioError(label, f"the audio stream cannot be decoded ({exc})") from None
            # A truncated tail: keep what decoded, as players do.
    if not chunks or native_sr <= 0:
        raise NoSamplesError(label, "the audio holds zero samples")
    signal = np.concatenate(chunks, axis=0)
    return (signal[:, 0] if signal.shape[1] == 1 else signal), native_sr
