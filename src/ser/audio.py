"""Decode any common audio file into 16 kHz mono float32, or say precisely why not.

`load` is the single entry point for audio in `ser`: training, prediction and the REST service
all go through it, so every bad-input case is handled here once.

Two decoders share the work. libsndfile (through soundfile) reads the formats whose length its
header states exactly: WAV, AIFF, FLAC, Ogg (Vorbis, Opus), CAF, AU, W64. FFmpeg (through PyAV)
reads everything else: MP3, M4A/MP4 (AAC), WebM/Matroska (Opus, Vorbis), and whatever libsndfile
refuses. MP3 goes to FFmpeg on purpose: libsndfile only estimates an MP3's length, and soundfile
stops reading at that estimate, cutting VBR files without a Xing header short.

The rules for damaged input, identical across formats (see docs/audio.md):

- content that no decoder recognises, and that does not start like a known audio container,
  raises `NotAudioError`;
- content that starts like an audio container but cannot be opened, or whose decoder fails
  part-way, raises `CorruptAudioError`;
- content that decodes cleanly but is shorter than the length its header declares raises
  `CorruptAudioError` ("truncated: ..."). Formats with an exact length (WAV, AIFF, FLAC, Ogg via
  libsndfile) must deliver every declared frame; through FFmpeg, whose container durations are
  coarse and include codec priming, a shortfall above 0.1 s or 1 % counts. A stream that declares
  no length (raw MP3 without a Xing/Info header, live WebM) and simply ends cannot be told from a
  shorter recording and is accepted.
"""

from __future__ import annotations

import io
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Union

import numpy as np

from ser.errors import SerError

SAMPLE_RATE = 16000
DEFAULT_MAX_DURATION_S = 3 * 3600.0

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]

# How much of the file is read up front to recognise its container and parse WAV/AIFF headers.
_HEAD_BYTES = 1 << 16
# Frames decoded per libsndfile call: a failure is located to within this many frames (2 s at
# 16 kHz). Smaller blocks cost more in soundfile's per-call overhead than in decoding.
_BLOCK_FRAMES = 1 << 15
# FFmpeg's container durations are coarse and include codec priming; smaller shortfalls are noise.
_FFMPEG_SHORTFALL_S = 0.1
_FFMPEG_SHORTFALL_FRACTION = 0.01


class AudioError(SerError):
    """The audio at `source` cannot be used; the message names it and says why."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class AudioNotFoundError(AudioError):
    """The path does not exist, is not a regular file, or cannot be opened."""


class EmptyAudioError(AudioError):
    """The file has 0 bytes."""


class NotAudioError(AudioError):
    """The content is not in any audio format we can decode."""


class CorruptAudioError(AudioError):
    """The content starts like audio but is truncated or unreadable."""


class NoSamplesError(AudioError):
    """The audio decodes to zero samples."""


class InvalidSamplesError(AudioError):
    """The audio holds NaN or infinite samples, or samples far beyond full scale."""


# Largest accepted absolute sample value: 60 dB above full scale.
MAX_PEAK = 1000.0


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
        (WAV, FLAC, OGG/Vorbis, OGG/Opus, MP3, AIFF, WebM, M4A/MP4 audio, ...). The format is
        recognised from the content, never from the file name.
    sr : target sample rate in Hz.
    max_duration : longest accepted duration in seconds (None: no limit). Checked against the
        header before decoding when the header states a length, and enforced while decoding
        otherwise, so an over-long file is never decoded in full.
    name : how to name the source in error messages (defaults to the path, the file object's
        own name (`file_name`) or ``<stream>``, or ``<bytes>``).

    Returns
    -------
    np.ndarray, shape (n_samples,), float32, channels averaged, resampled with soxr (HQ).
    Silence is valid audio and is returned as zeros.

    Raises
    ------
    AudioError subclasses (all `SerError`): AudioNotFoundError, EmptyAudioError, NotAudioError,
    CorruptAudioError, NoSamplesError, InvalidSamplesError, AudioTooLongError.
    """
    blocks = list(stream(source, sr, max_duration=max_duration, name=name))
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]


def stream(
    source: Source,
    sr: int = SAMPLE_RATE,
    *,
    block_s: float = 30.0,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    name: str | None = None,
) -> Iterator[np.ndarray]:
    """Decode `source` block by block: float32 mono signals at `sr` Hz of about `block_s` seconds.

    The same decoding, checks and errors as `load` (whose result is these blocks joined), but
    only one block is held at a time, so an hour-long recording needs megabytes, not gigabytes.
    Resampling runs as a stream (soxr), giving the same samples as resampling the whole file.
    Errors found mid-file (a truncated stream, NaN samples) are raised when that block is reached.
    """
    if sr <= 0:
        raise ValueError(f"the target sample rate must be positive, not {sr}")
    with _Input(source, name) as audio:
        reader = _open_reader(audio)
        try:
            reader.check_length(max_duration)
            resampler = None
            emitted = 0
            pending: list[np.ndarray] = []
            pending_frames = 0
            for block in reader.blocks(max_duration):
                if block.shape[0] == 0:
                    continue
                if not np.isfinite(block).all():
                    raise InvalidSamplesError(audio.label, "the audio holds NaN or infinite samples")
                peak = float(np.abs(block).max())
                if peak > MAX_PEAK:
                    # Float files may overshoot full scale (±1) a little; this far beyond it, they are not
                    # audio stored as float but something else, and every feature downstream would overflow.
                    raise InvalidSamplesError(audio.label, f"sample values reach {peak:.3g}, far beyond full scale (±1)")
                mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
                if reader.rate != sr:
                    if resampler is None:  # created on the first block: FFmpeg may correct the rate then
                        import soxr

                        resampler = soxr.ResampleStream(reader.rate, sr, 1, dtype="float32", quality="HQ")
                    mono = resampler.resample_chunk(np.ascontiguousarray(mono, dtype=np.float32), last=False)
                pending.append(np.ascontiguousarray(mono, dtype=np.float32))
                pending_frames += pending[-1].shape[0]
                if pending_frames >= block_s * sr:
                    emitted += pending_frames
                    yield pending[0] if len(pending) == 1 else np.concatenate(pending)
                    pending, pending_frames = [], 0
            if resampler is not None:
                pending.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True).astype(np.float32, copy=False))
                pending_frames += pending[-1].shape[0]
        finally:
            reader.close()
        if pending_frames:
            emitted += pending_frames
            yield np.concatenate(pending) if len(pending) > 1 else pending[0]
        if emitted == 0:
            if reader.rate != sr and resampler is not None:
                raise NoSamplesError(audio.label, f"{reader.rate} Hz audio this short holds no samples at {sr} Hz")
            raise NoSamplesError(audio.label, "the audio holds zero samples")


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says about it (see `info`)."""

    duration: float  # seconds
    sample_rate: int  # Hz, as stored (before any resampling)
    channels: int
    format: str  # the container as recognised from the content: "WAV", "FLAC", "MP4", ...


def info(source: Source, *, name: str | None = None) -> AudioInfo:
    """Duration, native sample rate, channels and container of an audio file, from its header.

    Only a stream that declares no length (raw MP3 without a Xing header, live WebM) is decoded
    to count its samples. Raises the same `AudioError` subclasses as `load` for bad input.
    """
    with _Input(source, name) as audio:
        reader = _open_reader(audio)
        try:
            frames = reader.frames if reader.frames is not None else reader.count_frames()
        finally:
            reader.close()
    if frames <= 0:
        raise NoSamplesError(audio.label, "the audio holds zero samples")
    return AudioInfo(frames / reader.rate, reader.rate, reader.channels, reader.kind)


def duration(source: Source, *, name: str | None = None) -> float:
    """Duration of an audio file in seconds, from its header where it states one (see `info`)."""
    return info(source, name=name).duration


def file_name(handle) -> str | None:
    """A binary file object's own name (an opened file's path); None for one without, such as an
    upload (a SpooledTemporaryFile's name is None or an int descriptor) or a BytesIO."""
    own_name = getattr(handle, "name", None)
    return str(own_name) if isinstance(own_name, (str, os.PathLike)) else None


class _Input:
    """A source made ready for the decoders: a path they open themselves, or bytes in memory."""

    def __init__(self, source: Source, name: str | None):
        self.path: str | None = None
        self.data: bytes | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.label = name or "<bytes>"
            self.data = bytes(source)
            size = len(self.data)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            self.label = name or str(path)
            if path.is_dir():
                raise AudioNotFoundError(self.label, "is a directory, not an audio file")
            try:
                stat = path.stat()
            except FileNotFoundError:
                raise AudioNotFoundError(self.label, "no such file") from None
            except OSError as exc:
                raise AudioNotFoundError(self.label, f"cannot be read ({exc.strerror})") from None
            if not path.is_file():
                raise AudioNotFoundError(self.label, "not a regular file")
            self.path = str(path)
            size = stat.st_size
        elif hasattr(source, "read"):
            self.label = name or file_name(source) or "<stream>"
            data = source.read()
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"{self.label}: the file object must be opened in binary mode")
            self.data = bytes(data)
            size = len(self.data)
        else:
            raise TypeError(f"cannot load audio from a {type(source).__name__}; give a path, bytes or a binary file")
        if size == 0:
            raise EmptyAudioError(self.label, "the file is empty (0 bytes)")
        self.head = self._read_head()

    def _read_head(self) -> bytes:
        if self.data is not None:
            return self.data[:_HEAD_BYTES]
        try:
            with open(self.path, "rb") as f:
                return f.read(_HEAD_BYTES)
        except OSError as exc:
            raise AudioNotFoundError(self.label, f"cannot be read ({exc.strerror})") from None

    def open(self) -> str | BinaryIO:
        """What to hand a decoder: the path, or a fresh in-memory file."""
        return self.path if self.path is not None else _MemoryFile(self.data)

    def __enter__(self) -> _Input:
        return self

    def __exit__(self, *exc) -> None:
        self.data = None


class _MemoryFile(io.BytesIO):
    """BytesIO whose seek clamps a negative target to 0 instead of raising.

    A damaged header can make libsndfile seek before the start; soundfile's callback would print
    the ValueError to stderr ("Exception ignored from cffi callback") and return 0 anyway.
    """

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            return super().seek(offset, whence)
        except ValueError:
            if self.closed:
                raise
            return super().seek(0)


class _SndfileReader:
    """libsndfile: exact lengths from the header, decoded block by block."""

    def __init__(self, audio: _Input, kind: str):
        import soundfile as sf

        self.label = audio.label
        self.kind = kind
        self._file = sf.SoundFile(audio.open())
        self.rate = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        # libsndfile reports SF_COUNT_MAX for a stream that does not state its length;
        # `_open_reader` hands those to FFmpeg.
        frames = int(self._file.frames)
        self.frames: int | None = frames if frames < 2**62 else None
        # For WAV and AIFF libsndfile trims the declared length to the bytes present; the header's own
        # number is what tells a truncated file.
        self.declared = _declared_pcm_frames(audio.head) if kind in ("WAV", "AIFF") else self.frames

    @property
    def format(self) -> str:
        return str(self._file.format)

    def check_length(self, max_duration: float | None) -> None:
        _check_header_length(self.label, self.frames, self.rate, max_duration)
        if self.declared is not None and self.frames is not None and self.declared > self.frames:
            raise _truncated(self.label, self.kind, self.declared, self.frames, self.rate, "is in the file")

    def blocks(self, max_duration: float | None) -> Iterator[np.ndarray]:
        """The samples as (frames, channels) float32 blocks of `_BLOCK_FRAMES`, in order."""
        import soundfile as sf

        _check_header_length(self.label, self.frames, self.rate, max_duration)
        # The length is exact (streams without one go to FFmpeg); reading block by block lets a
        # failure say where it happened.
        done = 0
        while done < self.frames:
            try:
                block = self._file.read(min(_BLOCK_FRAMES, self.frames - done), dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise _decoding_failed(self.label, self.kind, done, self.rate, exc) from None
            if block.shape[0] == 0:
                raise _truncated(self.label, self.kind, self.frames, done, self.rate, "decodes")
            done += block.shape[0]
            yield block

    def close(self) -> None:
        self._file.close()


class _FFmpegReader:
    """FFmpeg through PyAV, for every container libsndfile does not read."""

    # Demuxers whose duration comes from the container header rather than a bitrate estimate.
    _EXACT_DURATION = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "ogg", "flac", "wav", "aiff", "caf", "w64"}

    def __init__(self, audio: _Input, kind: str | None):
        import av

        self.label = audio.label
        try:
            self._container = av.open(audio.open(), mode="r", metadata_errors="replace")
        except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
            if kind is None:
                raise NotAudioError(self.label, "not an audio file in a format we can read") from None
            raise CorruptAudioError(
                self.label, f"truncated or damaged: starts like {kind} but cannot be opened ({_why(exc)})"
            ) from None
        self.kind = kind or self._container.format.name
        self._stream = self._container.streams.best("audio")
        if self._stream is None:
            self._container.close()
            if kind is None:
                raise NotAudioError(self.label, "not an audio file (no audio stream in it)")
            raise NotAudioError(self.label, f"the {kind} file holds no audio stream")
        context = self._stream.codec_context
        if context is None:  # FFmpeg has no decoder for this codec (or a damaged header names none)
            self._container.close()
            raise NotAudioError(self.label, f"the {self.kind} file holds audio in a codec we cannot decode")
        self.rate = int(context.sample_rate or 0)
        self.channels = int(context.channels or 0)
        if self.rate <= 0:
            self._container.close()
            raise CorruptAudioError(self.label, f"the {self.kind} audio stream states no sample rate")
        self._declared_s = self._header_seconds(audio.head)

    @property
    def frames(self) -> int | None:
        """The length the container declares, in frames at the decoded rate; None if it states none."""
        return None if self._declared_s is None else round(self._declared_s * self.rate)

    def _header_seconds(self, head: bytes) -> float | None:
        fmt = self._container.format.name
        if fmt not in self._EXACT_DURATION and not (fmt == "mp3" and _has_mp3_length_tag(head)):
            return None
        stream = self._stream
        if stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        elif self._container.duration:
            seconds = self._container.duration / 1_000_000
        else:
            return None
        return seconds if seconds > 0 else None

    def check_length(self, max_duration: float | None) -> None:
        _check_header_length(self.label, self.frames, self.rate, max_duration)

    def count_frames(self) -> int:
        """The length of a stream that states none, from its packets' durations (no decoding)."""
        import av

        total = 0
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                if not packet.duration or not packet.time_base:
                    self._container.seek(0)
                    return self.decode(None).shape[0]
                total += packet.duration * packet.time_base
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise _decoding_failed(self.label, self.kind, round(total * self.rate), self.rate, exc) from None
        return round(total * self.rate)

    def blocks(self, max_duration: float | None) -> Iterator[np.ndarray]:
        """The samples as (frames, channels) float32 blocks of at least `_BLOCK_FRAMES`, in order."""
        import av

        limit = _frame_limit(max_duration, self.rate)
        pending: list[np.ndarray] = []
        pending_frames = done = 0
        channels = None
        try:
            for frame in self._container.decode(self._stream):
                if channels is None:
                    # The decoder has the last word: HE-AAC, for one, decodes at twice the header's rate.
                    self.rate = frame.sample_rate
                    limit = _frame_limit(max_duration, self.rate)
                elif frame.sample_rate != self.rate:
                    raise CorruptAudioError(
                        self.label, f"the sample rate changes mid-stream ({self.rate} Hz to {frame.sample_rate} Hz)"
                    )
                chunk = _frame_to_float(frame)
                if channels is not None and chunk.shape[1] != channels:
                    raise CorruptAudioError(self.label, "the number of channels changes mid-stream")
                channels = chunk.shape[1]
                pending.append(chunk)
                pending_frames += chunk.shape[0]
                done += chunk.shape[0]
                _check_decoded_length(self.label, done, self.rate, limit, max_duration)
                if pending_frames >= _BLOCK_FRAMES:
                    yield np.concatenate(pending)
                    pending, pending_frames = [], 0
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise _decoding_failed(self.label, self.kind, done, self.rate, exc) from None
        if self.frames is not None:
            allowed = max(_FFMPEG_SHORTFALL_S * self.rate, _FFMPEG_SHORTFALL_FRACTION * self.frames)
            if self.frames - done > allowed:
                raise _truncated(self.label, self.kind, self.frames, done, self.rate, "decodes")
        if pending:
            yield np.concatenate(pending)

    def decode(self, max_duration: float | None) -> np.ndarray:
        """Every sample, (frames, channels) float32."""
        blocks = list(self.blocks(max_duration))
        return np.concatenate(blocks) if blocks else np.zeros((0, max(self.channels, 1)), np.float32)

    def close(self) -> None:
        self._container.close()


def _open_reader(audio: _Input) -> _SndfileReader | _FFmpegReader:
    """The reader for `audio`: libsndfile for the containers it states lengths of, else FFmpeg."""
    import soundfile as sf

    kind = _sniff(audio.head)
    if kind in _SNDFILE_KINDS:
        try:
            reader = _SndfileReader(audio, kind)
        except (sf.LibsndfileError, RuntimeError):
            # A codec libsndfile lacks (WAV holding MP3 or GSM, Ogg holding Speex...): FFmpeg may know it.
            return _FFmpegReader(audio, kind)
        # libsndfile cannot read a FLAC that states no length (streamed); FFmpeg can.
        if reader.format != "MP3" and reader.frames is not None:
            return reader
        reader.close()
    return _FFmpegReader(audio, kind)


# First bytes of the containers we recognise. They route a file to its decoder and let a failure
# say "corrupt" (it starts like audio) rather than "not audio".
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "WAV"),
    (0, b"RIFX", "WAV"),
    (0, b"RF64", "WAV"),
    (0, b"BW64", "WAV"),
    (0, b"riff", "W64"),
    (0, b"FORM", "AIFF"),
    (0, b"fLaC", "FLAC"),
    (0, b"OggS", "Ogg"),
    (0, b"caff", "CAF"),
    (0, b".snd", "AU"),
    (0, b"ID3", "MP3"),
    (4, b"ftyp", "MP4"),
    (0, b"\x1a\x45\xdf\xa3", "WebM/Matroska"),
    (0, b"#!AMR", "AMR"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF/WMA"),
)
_SNDFILE_KINDS = frozenset({"WAV", "W64", "AIFF", "FLAC", "Ogg", "CAF", "AU"})


def _sniff(head: bytes) -> str | None:
    """The container `head` starts like, or None."""
    for offset, magic, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # An MPEG audio frame sync (MP3, MP2) or, with layer bits 00, an ADTS AAC header.
        return "AAC" if head[1] & 0x06 == 0 else "MP3"
    return None


def _declared_pcm_frames(head: bytes) -> int | None:
    """Frames a WAV ('data' chunk size) or AIFF ('COMM' frame count) header declares, or None.

    None when the header is not in `head`, or says "unknown length" (0 or 0xFFFFFFFF, written by
    recorders that stream to a pipe).
    """
    if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
        order, block_align = ("<" if head[:4] == b"RIFF" else ">"), 0
        for chunk_id, start, size in _chunks(head, 12, order):
            if chunk_id == b"fmt " and start + 14 <= len(head):
                (block_align,) = struct.unpack_from(order + "H", head, start + 12)
            elif chunk_id == b"data":
                if block_align == 0 or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        for chunk_id, start, _ in _chunks(head, 12, ">"):
            if chunk_id == b"COMM" and start + 6 <= len(head):
                (frames,) = struct.unpack_from(">I", head, start + 2)
                return frames or None
    return None


def _chunks(head: bytes, pos: int, order: str):
    """(id, data offset, declared size) of each RIFF/IFF chunk whose header lies in `head`."""
    while pos + 8 <= len(head):
        chunk_id = head[pos : pos + 4]
        (size,) = struct.unpack_from(order + "I", head, pos + 4)
        yield chunk_id, pos + 8, size
        pos += 8 + size + (size & 1)


def _has_mp3_length_tag(head: bytes) -> bool:
    """Whether the first MP3 frame carries a Xing/Info/VBRI header, the only exact MP3 length."""
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        # ID3v2 size: four 7-bit bytes, excluding the 10-byte header (and a footer, if flagged).
        start = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
        if head[5] & 0x10:
            start += 10
    first_frame = head[start : start + 2048]
    return any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


# Full-scale value of each integer sample type FFmpeg hands out; unsigned 8-bit is offset by 128.
_INT_SCALE = {np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31, np.dtype(np.int64): 2.0**63}


def _frame_to_float(frame) -> np.ndarray:
    """A PyAV audio frame as float32 (samples, channels) in [-1, 1) for integer formats."""
    array = frame.to_ndarray()
    channels = len(frame.layout.channels)
    # Planar frames are (channels, samples); packed (interleaved) ones (1, samples * channels).
    array = array.T if frame.format.is_planar else array.reshape(-1, channels)
    if array.dtype == np.uint8:
        return (array.astype(np.float32) - 128.0) / 128.0
    if array.dtype in _INT_SCALE:
        return (array.astype(np.float64) / _INT_SCALE[array.dtype]).astype(np.float32)
    return array.astype(np.float32, copy=False)


def _frame_limit(max_duration: float | None, rate: int) -> int | None:
    return None if max_duration is None else math.floor(max_duration * rate)


def _check_header_length(label: str, frames: int | None, rate: int, max_duration: float | None) -> None:
    limit = _frame_limit(max_duration, rate)
    if frames is not None and limit is not None and frames > limit:
        raise AudioTooLongError(
            label, f"the audio lasts {_seconds(frames, rate)}, longer than the limit of {max_duration:g} s"
        )


def _check_decoded_length(label: str, done: int, rate: int, limit: int | None, max_duration: float | None) -> None:
    if limit is not None and done > limit:
        raise AudioTooLongError(
            label, f"the audio lasts more than the limit of {max_duration:g} s (stopped decoding at {_seconds(done, rate)})"
        )


def _truncated(label: str, kind: str, declared: int, present: int, rate: int, where: str) -> CorruptAudioError:
    return CorruptAudioError(
        label,
        f"truncated: the {kind} header declares {_seconds(declared, rate)} of audio but only "
        f"{_seconds(present, rate)} {where}",
    )


def _decoding_failed(label: str, kind: str, done: int, rate: int, exc: Exception) -> CorruptAudioError:
    if done == 0:
        return CorruptAudioError(label, f"truncated or damaged: the {kind} audio cannot be decoded ({_why(exc)})")
    return CorruptAudioError(
        label, f"truncated or damaged: decoding the {kind} audio fails after {_seconds(done, rate)} ({_why(exc)})"
    )


def _why(exc: Exception) -> str:
    """The decoder's own words, without PyAV's errno prefix, naming the decoder."""
    text = (getattr(exc, "strerror", None) or str(exc)).strip() or type(exc).__name__
    decoder = "FFmpeg" if type(exc).__module__.startswith("av") else "libsndfile"
    return f"{decoder}: {text}"


def _seconds(frames: int, rate: int) -> str:
    return f"{frames / rate:.2f} s"
