"""ser.audio: every common format decodes to the right 16 kHz mono signal; every bad input says why."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from ser import audio
from ser.audio import (
    AudioError,
    AudioNotFoundError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidSamplesError,
    NoSamplesError,
    NotAudioError,
)
from ser.errors import SerError

SR = 16000


def chirp(rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    """A 200 -> 3000 Hz chirp under a slow envelope: aperiodic, so correlation pins the alignment."""
    t = np.arange(int(rate * seconds)) / rate
    phase = 2 * np.pi * (200 * t + (3000 - 200) / (2 * seconds) * t**2)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t)
    return (amplitude * envelope * np.sin(phase)).astype(np.float32)


def encode_av(path: Path, container: str, codec: str, rate: int, signal: np.ndarray, **options) -> Path:
    """Encode `signal` (samples,) or (samples, channels) float32 with FFmpeg through PyAV."""
    signal = signal.reshape(len(signal), -1)
    layout = "mono" if signal.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=container, options=options) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(signal).reshape(1, -1), format="flt", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def best_correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 2048) -> float:
    """Highest normalised cross-correlation of a and b over lags up to max_lag (codec delays)."""
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    size = 2 * n
    xc = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.concatenate([xc[: max_lag + 1], xc[-max_lag:]])
    return float(lags.max() / (np.linalg.norm(a) * np.linalg.norm(b)))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# name -> (writer(path stem, signal at `rate`, rate) -> path, native rate, lossless)
def _sf_writer(ext: str, **kwargs):
    return lambda stem, x, rate: (sf.write(f"{stem}.{ext}", x, rate, **kwargs), Path(f"{stem}.{ext}"))[1]


def _av_writer(ext: str, container: str, codec: str, **options):
    return lambda stem, x, rate: encode_av(Path(f"{stem}.{ext}"), container, codec, rate, x, **options)


FORMATS = {
    "wav-pcm16": (_sf_writer("wav", subtype="PCM_16"), 44100, True),
    "wav-float": (_sf_writer("wav", subtype="FLOAT"), 16000, True),
    "aiff-named-wav": (_sf_writer("wav", format="AIFF", subtype="PCM_16"), 48000, True),
    "flac": (_sf_writer("flac"), 22050, True),
    "ogg-vorbis": (_sf_writer("ogg", format="OGG", subtype="VORBIS"), 44100, False),
    "ogg-opus": (_sf_writer("opus", format="OGG", subtype="OPUS"), 48000, False),
    "mp3-libsndfile": (_sf_writer("mp3", format="MP3"), 44100, False),
    "mp3-lame": (_av_writer("mp3", "mp3", "libmp3lame"), 48000, False),
    "webm-opus": (_av_writer("webm", "webm", "libopus"), 48000, False),
    "m4a-aac": (_av_writer("m4a", "mp4", "aac"), 44100, False),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_decodes_to_the_original(tmp_path, fmt):
    write, rate, lossless = FORMATS[fmt]
    seconds = 1.0
    path = write(tmp_path / "clip", chirp(rate, seconds), rate)
    reference = chirp(SR, seconds)

    signal = audio.load(path)

    assert signal.dtype == np.float32 and signal.ndim == 1
    if lossless:
        assert len(signal) == len(reference)
        assert best_correlation(signal, reference, max_lag=2) > 0.999
        assert rms(signal) == pytest.approx(rms(reference), rel=0.01)
    else:
        # Codec priming and padding move the ends by a few ms; the content must stay put.
        assert abs(len(signal) - len(reference)) <= 0.05 * SR
        assert best_correlation(signal, reference) > 0.9
        assert rms(signal) == pytest.approx(rms(reference), rel=0.15)
    meta = audio.info(path)
    assert meta.duration == pytest.approx(seconds, abs=0.05)
    assert (meta.sample_rate, meta.channels) == (rate, 1)
    assert audio.duration(path) == meta.duration


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000, 96000])
def test_any_rate_is_resampled_to_the_target(tmp_path, rate):
    t = np.arange(rate) / rate
    path = tmp_path / f"tone{rate}.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), rate, subtype="PCM_16")
    t16 = np.arange(SR) / SR
    for target in (SR, 8000):
        signal = audio.load(path, sr=target)
        expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(target) / target)
        assert len(signal) == target
        # soxr's filter rings at the edges; the body must match the tone sample for sample.
        body = slice(target // 20, -target // 20)
        assert np.abs(signal[body] - expected[body]).max() < 0.01
    assert rms(audio.load(path)) == pytest.approx(rms(0.5 * np.sin(2 * np.pi * 440 * t16)), rel=0.01)


def test_stereo_is_averaged(tmp_path):
    left = chirp(SR)
    stereo = np.stack([left, -0.5 * left], axis=1)
    sf.write(tmp_path / "stereo.wav", stereo, SR, subtype="FLOAT")
    np.testing.assert_allclose(audio.load(tmp_path / "stereo.wav"), 0.25 * left, atol=1e-6)
    # Through FFmpeg too (AAC decodes to planar float): two equal channels average to the same signal.
    path = encode_av(tmp_path / "stereo.m4a", "mp4", "aac", 48000, np.stack([chirp(48000)] * 2, axis=1))
    signal = audio.load(path)
    assert best_correlation(signal, chirp(SR)) > 0.9
    assert rms(signal) == pytest.approx(rms(chirp(SR)), rel=0.15)


def test_bytes_and_file_objects(tmp_path):
    path = tmp_path / "clip.flac"
    sf.write(path, chirp(SR), SR)
    expected = audio.load(path)
    data = path.read_bytes()
    np.testing.assert_array_equal(audio.load(data), expected)
    np.testing.assert_array_equal(audio.load(bytearray(data)), expected)
    np.testing.assert_array_equal(audio.load(io.BytesIO(data)), expected)
    with open(path, "rb") as f:
        np.testing.assert_array_equal(audio.load(f), expected)
    # FFmpeg-only containers from memory as well.
    webm = encode_av(tmp_path / "clip.webm", "webm", "libopus", 48000, chirp(48000))
    assert best_correlation(audio.load(webm.read_bytes()), chirp(SR)) > 0.9
    with pytest.raises(TypeError, match="binary"):
        audio.load(io.StringIO("text"))


def test_silence_is_valid(tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros(8000, np.float32), SR, subtype="PCM_16")
    signal = audio.load(tmp_path / "silence.wav")
    assert len(signal) == 8000 and not signal.any()


def _assert_error(kind: type, source, label: str, *fragments: str, **kwargs) -> AudioError:
    with pytest.raises(kind) as info:
        audio.load(source, **kwargs)
    message = str(info.value)
    assert label in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, SerError)
    return info.value


def test_missing_directory_and_empty(tmp_path):
    _assert_error(AudioNotFoundError, tmp_path / "nope.wav", "nope.wav", "no such file")
    _assert_error(AudioNotFoundError, tmp_path, str(tmp_path), "directory")
    (tmp_path / "empty.wav").write_bytes(b"")
    _assert_error(EmptyAudioError, tmp_path / "empty.wav", "empty.wav", "0 bytes")
    _assert_error(EmptyAudioError, b"", "<bytes>", "0 bytes")
    _assert_error(EmptyAudioError, b"", "upload.wav", name="upload.wav")
    with pytest.raises(AudioNotFoundError, match="nope.wav"):
        audio.duration(tmp_path / "nope.wav")


def test_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_text("these are my notes, not a recording\n" * 20)
    _assert_error(NotAudioError, tmp_path / "notes.wav", "notes.wav", "not an audio file")
    with open(tmp_path / "notes.wav", "rb") as f:  # a file object is named by its .name
        _assert_error(NotAudioError, f, "notes.wav")
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    (tmp_path / "picture.mp3").write_bytes(png + b"\0" * 4 + struct.pack(">I", 0) + b"IEND\xaeB`\x82")
    _assert_error(NotAudioError, tmp_path / "picture.mp3", "picture.mp3")
    noise = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    _assert_error(NotAudioError, noise, "<bytes>")
    upload = io.BytesIO(noise)
    upload.name = None  # as FastAPI's SpooledTemporaryFile has it
    _assert_error(NotAudioError, upload, "<stream>")


def _cut(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    cut = path.with_name(f"cut_{path.name}")
    cut.write_bytes(data[: int(len(data) * fraction)])
    return cut


@pytest.mark.parametrize(
    "fmt", ["wav-pcm16", "aiff-named-wav", "flac", "ogg-vorbis", "ogg-opus", "mp3-lame", "webm-opus", "m4a-aac"]
)
def test_truncated_files_are_corrupt(tmp_path, fmt):
    write, rate, _ = FORMATS[fmt]
    path = _cut(write(tmp_path / "clip", chirp(rate, 2.0), rate))
    error = _assert_error(CorruptAudioError, path, path.name)
    assert "truncated" in str(error)


def test_mp3_with_garbage_is_corrupt(tmp_path):
    path = encode_av(tmp_path / "clip.mp3", "mp3", "libmp3lame", 44100, chirp(44100, 2.0))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 1000] = np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    (tmp_path / "garbled.mp3").write_bytes(bytes(data))
    _assert_error(CorruptAudioError, tmp_path / "garbled.mp3", "garbled.mp3", "truncated or damaged")


def test_zero_samples(tmp_path):
    sf.write(tmp_path / "nothing.wav", np.zeros(0, np.float32), SR, subtype="PCM_16")
    _assert_error(NoSamplesError, tmp_path / "nothing.wav", "nothing.wav", "zero samples")
    with pytest.raises(NoSamplesError):
        audio.duration(tmp_path / "nothing.wav")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_samples(tmp_path, bad):
    signal = chirp(SR)
    signal[100] = bad
    sf.write(tmp_path / "bad.wav", signal, SR, subtype="FLOAT")
    _assert_error(InvalidSamplesError, tmp_path / "bad.wav", "bad.wav", "NaN or infinite")


def _wav_header(frames: int, rate: int = SR, data_size: int | None = None) -> bytes:
    size = frames * 2 if data_size is None else data_size
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", (36 + size) & 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size)


def test_too_long_is_rejected_from_the_header(tmp_path):
    # A sparse 10-hour WAV: 1.15 GB on paper, nothing on disk. Decoding it would take many seconds.
    frames = 10 * 3600 * SR
    path = tmp_path / "ten_hours.wav"
    with open(path, "wb") as f:
        f.write(_wav_header(frames))
        f.truncate(44 + frames * 2)
    start = time.perf_counter()
    _assert_error(AudioTooLongError, path, "ten_hours.wav", "36000.00 s", "10800 s")
    assert audio.duration(path) == pytest.approx(36000.0)
    assert time.perf_counter() - start < 2.0


def test_too_long_is_stopped_while_decoding_when_no_length_is_declared(tmp_path):
    # An MP3 without a Xing header states no length: the limit is enforced while decoding.
    path = encode_av(tmp_path / "long.mp3", "mp3", "libmp3lame", 16000, chirp(16000, 3.0), write_xing="0")
    _assert_error(AudioTooLongError, path, "long.mp3", "stopped decoding", max_duration=1.0)
    # Without the LAME tag the encoder delay and padding stay in: up to ~0.1 s more.
    assert len(audio.load(path, max_duration=None)) == pytest.approx(3 * SR, abs=0.12 * SR)
    assert audio.duration(path) == pytest.approx(3.0, abs=0.12)  # counted from packets, not decoded
    # A header length is checked before any decoding.
    sf.write(tmp_path / "long.flac", chirp(SR, 3.0), SR)
    _assert_error(AudioTooLongError, tmp_path / "long.flac", "long.flac", "3.00 s", max_duration=2.5)


def test_streamed_files_without_a_length_load_in_full(tmp_path):
    # Recorders writing to a pipe leave the WAV data size at 0xFFFFFFFF and FLAC's total at 0.
    signal = chirp(SR)
    pcm = (signal * 32767).astype("<i2").tobytes()
    (tmp_path / "streamed.wav").write_bytes(_wav_header(0, data_size=0xFFFFFFFF) + pcm)
    np.testing.assert_allclose(audio.load(tmp_path / "streamed.wav"), signal, atol=1e-4)
    sf.write(tmp_path / "streamed.flac", signal, SR)
    data = bytearray((tmp_path / "streamed.flac").read_bytes())
    total = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)  # STREAMINFO: 36-bit total samples
    data[18:26] = total.to_bytes(8, "big")
    np.testing.assert_allclose(audio.load(bytes(data)), signal, atol=1e-4)


@pytest.mark.parametrize(
    "fmt, dtype",
    [("u8", np.uint8), ("s16", np.int16), ("s32", np.int32), ("flt", np.float32), ("dbl", np.float64)],
)
@pytest.mark.parametrize("planar", [False, True])
def test_ffmpeg_frames_scale_like_libsndfile(fmt, dtype, planar):
    # Full scale is 2**(bits-1) as in libsndfile: int16 -32768 -> -1.0, 16384 -> 0.5.
    if np.dtype(dtype).kind == "f":
        left, right = np.array([-1.0, 0.5, 0.0], dtype), np.array([0.25, -0.25, 1.0], dtype)
        expected_left, expected_right = left, right
    else:
        half = 2 ** (8 * np.dtype(dtype).itemsize - 1)
        offset = half if dtype is np.uint8 else 0
        left = np.array([-half, half // 2, 0], np.int64) + offset
        right = np.array([half // 4, -half // 4, half - 1], np.int64) + offset
        expected_left, expected_right = np.array([-1.0, 0.5, 0.0]), np.array([0.25, -0.25, (half - 1) / half])
    if planar:
        array, name = np.stack([left, right]).astype(dtype), fmt + "p"
    else:
        array, name = np.stack([left, right], axis=1).reshape(1, -1).astype(dtype), fmt
    frame = av.AudioFrame.from_ndarray(array, format=name, layout="stereo")
    out = audio._frame_to_float(frame)
    assert out.dtype == np.float32 and out.shape == (3, 2)
    np.testing.assert_allclose(out[:, 0], expected_left, atol=1e-7)
    np.testing.assert_allclose(out[:, 1], expected_right, atol=1e-7)


@pytest.mark.parametrize(
    "subtype, channels",
    [("PCM_U8", 2), ("PCM_16", 1), ("PCM_16", 2), ("PCM_16", 6), ("PCM_24", 2), ("PCM_32", 2), ("FLOAT", 2)],
)
def test_ffmpeg_and_libsndfile_agree_on_pcm(tmp_path, subtype, channels):
    multichannel = np.stack([chirp(SR, 0.5) * (1 - 0.3 * c) * (-1) ** c for c in range(channels)], axis=1)
    path = tmp_path / "pcm.wav"
    sf.write(path, multichannel, SR, subtype=subtype)
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    with audio._Input(path, None) as source:
        reader = audio._FFmpegReader(source, "WAV")
        decoded = reader.decode(None)
        reader.close()
    assert reader.rate == SR
    np.testing.assert_allclose(decoded, expected, atol=1e-7)


def test_import_stays_light():
    code = "import sys, ser.audio; print(sorted({'torch', 'librosa', 'av', 'soundfile'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.corpora
def test_real_corpus_clips_match_soundfile(datasets_dir):
    for path in sorted((datasets_dir / "RAVDESS" / "Audio_Speech_Actors_01-24" / "Actor_01").glob("*.flac"))[:5]:
        expected, rate = sf.read(path, dtype="float32")
        assert rate == SR
        np.testing.assert_array_equal(audio.load(path), expected)
        assert audio.duration(path) == pytest.approx(len(expected) / SR)


def test_damaged_files_raise_audio_errors_only(tmp_path):
    # Cut, overwritten and header-mangled copies of each container either load as finite float32
    # or raise an AudioError; nothing else escapes (found by fuzzing: a WAV whose mangled header
    # names a codec FFmpeg has no decoder for).
    rng = np.random.default_rng(7)
    outcomes = set()
    for fmt, (write, rate, _) in FORMATS.items():
        data = write(tmp_path / fmt, chirp(rate, 0.5), rate).read_bytes()
        for attempt in range(6):
            damaged = bytearray(data)
            # Half the attempts hit the header (first 64 bytes), half anywhere.
            where = int(rng.integers(0, 64 if attempt % 2 else len(data)))
            if attempt % 3 == 0:
                damaged = damaged[:where]
            else:
                damaged[where : where + 16] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
            try:
                signal = audio.load(bytes(damaged), max_duration=60)
            except AudioError as exc:
                outcomes.add(type(exc).__name__)
            else:
                assert signal.dtype == np.float32 and np.isfinite(signal).all()
                outcomes.add("ok")
    assert {"ok", "CorruptAudioError"} <= outcomes


def test_float_samples_far_beyond_full_scale_are_refused(tmp_path):
    import soundfile as sf

    from ser.audio import InvalidSamplesError, load

    path = tmp_path / "huge.wav"
    sf.write(path, np.full(1600, 3.7e19, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InvalidSamplesError, match="far beyond full scale"):
        load(path)
    loud = tmp_path / "loud.wav"  # a little over full scale is still audio
    sf.write(loud, np.full(1600, 1.5, np.float32), 16000, subtype="FLOAT")
    assert load(loud).max() == pytest.approx(1.5, rel=1e-3)


def test_audio_that_resamples_to_nothing_is_refused():
    import io

    import soundfile as sf

    from ser.audio import NoSamplesError, load

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(1, np.float32), 268_000_000, format="WAV", subtype="FLOAT")
    with pytest.raises(NoSamplesError, match="no samples at 16000 Hz"):
        load(buffer.getvalue())
