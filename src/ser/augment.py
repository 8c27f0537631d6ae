"""Data augmentation: random waveform transforms (audiomentations) and SpecAugment masks.

Two families of waveform transforms, in one seeded `Augmenter`:

- speaker variation (the classic SER recipe): time stretch, pitch shift, time shift, gain,
  peak-relative Gaussian noise, synthetic reverberation;
- recording conditions, each with its own probability: additive coloured (or recorded) noise at
  5-30 dB SNR, silence or a faint noise floor (-60..-45 dBFS) of 0.5-3 s around the clip, and at
  most one transmission channel per clip: telephone (8 kHz, 300-3400 Hz, G.711 mu-law or A-law),
  or a low bit-rate MP3 or Opus round trip (PyAV, in memory).
  ``AugmentConfig.recordings()`` turns them all on with the recipe's settings.

The rule that keeps results honest: augmentation is applied ONLY to training examples, after
the split. The trainer calls the augmenter on training batches (or `augmented_copies` on the
training indices); validation and test clips are never augmented, and augmented copies of a
clip never cross to another side of the split, since they inherit its speaker.

Reproducible from a seed: `make_augmenter(config)` returns an `Augmenter` whose sequence of
outputs is fixed by ``config.seed``; ``augmenter(signal, sr, seed=n)`` gives one fixed output
per ``n`` (e.g. ``seed=epoch * n_clips + index``) whatever the call order.
"""

from __future__ import annotations

import contextlib
import logging
import random
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ser.errors import SerError

logger = logging.getLogger(__name__)

# MPEG-2 layer III bit rates (kbit/s), the ones an MP3 at 16 kHz can have.
_MPEG2_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)

try:  # audiomentations is in the `train` extra; this module is only used when training.
    from audiomentations.core.transforms_interface import BaseWaveformTransform
except ImportError:  # pragma: no cover - the module stays importable for documentation tools
    BaseWaveformTransform = object  # type: ignore[assignment,misc]


@dataclass(frozen=True)
class AugmentConfig:
    """Which random transforms to apply to training waveforms, and how strongly.

    Each enabled transform applies independently with probability ``p``, in the order stretch,
    pitch, shift, reverb, gain, noise. A value of 0 (or None for ``stretch``) disables one.

    noise : Gaussian noise whose standard deviation is ``u * noise * peak``, ``u ~ U(0, 1)`` and
        ``peak`` the clip's largest absolute sample (the usual SER recipe's 0.035).
    shift : largest time shift, as a fraction of the clip's length, either way (zero-filled).
    stretch : range of time-stretch rates (<1 slower, >1 faster), pitch kept.
    pitch_semitones : largest pitch shift up or down, in semitones, tempo kept.
    gain_db : largest gain change up or down, in dB.
    reverb : longest RT60 in seconds of a synthetic room (exponentially decaying noise).
    keep_length : crop or zero-pad stretched clips back to their input length.
    seed : seeds the sequence of random draws.

    Recording conditions follow, in this order, each applying with its own probability (0
    disables it):

    snr : additive noise at ``U(snr_db)`` dB signal-to-noise ratio (clip power over noise power):
        coloured noise with a power spectrum ``~ 1/f**beta``, ``beta ~ U(0, 2)`` (white to
        brown), or, when `noise_files` are given, half the time a random stretch of one of them.
    pad : ``U(pad_s)`` seconds before and, independently, after the clip: digital silence one
        time in four, else a noise floor at ``U(pad_dbfs)`` dBFS (RMS) that runs under the speech
        too, as a room's would. The output is longer than the input.
    telephone, mp3, opus : the probabilities of the transmission channels; a clip goes through at
        most one, so they may sum to 1 at most. Telephone: 8 kHz, 300-3400 Hz band-pass, G.711
        mu-law or A-law (equally likely). MP3: a bit rate from `mp3_kbps` (the MPEG-2 rates in
        it). Opus: ``U{opus_kbps}`` kbit/s. Codec outputs keep the input's length and alignment.

    With any recording condition on, the output is clipped to full scale ([-1, 1]), as a file is.
    """

    noise: float = 0.035
    shift: float = 0.2
    stretch: tuple[float, float] | None = (0.8, 1.25)
    pitch_semitones: float = 4.0
    gain_db: float = 6.0
    reverb: float = 0.0
    p: float = 0.5
    keep_length: bool = True
    seed: int = 0
    snr: float = 0.0
    snr_db: tuple[float, float] = (5.0, 30.0)
    noise_files: tuple[str, ...] = ()
    pad: float = 0.0
    pad_s: tuple[float, float] = (0.5, 3.0)
    pad_dbfs: tuple[float, float] = (-60.0, -45.0)
    telephone: float = 0.0
    mp3: float = 0.0
    mp3_kbps: tuple[int, int] = (16, 64)
    opus: float = 0.0
    opus_kbps: tuple[int, int] = (8, 32)

    @classmethod
    def recordings(cls, seed: int = 0, **overrides: Any) -> "AugmentConfig":
        """The recipe for recordings as people make them: the classic speaker variations (stretch,
        pitch, shift, reverberation up to RT60 0.6 s, gain +-12 dB, each with p = 0.5) and every
        recording condition: SNR noise (p 0.5), padding (p 0.5), telephone (0.2), MP3 (0.15),
        Opus (0.15). The classic peak-relative noise gives way to the SNR noise."""
        settings = dict(noise=0.0, reverb=0.6, gain_db=12.0, p=0.5, snr=0.5, pad=0.5,
                        telephone=0.2, mp3=0.15, opus=0.15, seed=seed)
        return cls(**{**settings, **overrides})

    @property
    def recording_conditions(self) -> bool:
        """True if any recording condition (noise at an SNR, padding, a channel) is on."""
        return any(getattr(self, name) > 0 for name in ("snr", "pad", "telephone", "mp3", "opus"))

    def __post_init__(self) -> None:
        if self.stretch is not None:
            stretch = tuple(float(v) for v in self.stretch)
            if len(stretch) != 2 or not 0.1 <= stretch[0] <= stretch[1] <= 10:
                raise SerError(f"augment config: stretch must be [min_rate, max_rate] within [0.1, 10], not {self.stretch}")
            object.__setattr__(self, "stretch", stretch)
        if not 0.0 <= self.p <= 1.0:
            raise SerError(f"augment config: p must lie in [0, 1], not {self.p}")
        if not 0.0 <= self.shift <= 1.0:
            raise SerError(f"augment config: shift must lie in [0, 1], not {self.shift}")
        if not 0.0 <= self.pitch_semitones <= 24:
            raise SerError(f"augment config: pitch_semitones must lie in [0, 24], not {self.pitch_semitones}")
        for name in ("noise", "gain_db", "reverb"):
            if getattr(self, name) < 0:
                raise SerError(f"augment config: {name} cannot be negative, not {getattr(self, name)}")
        for name in ("snr", "pad", "telephone", "mp3", "opus"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SerError(f"augment config: {name} is a probability and must lie in [0, 1], not {getattr(self, name)}")
        if self.telephone + self.mp3 + self.opus > 1.0 + 1e-9:
            raise SerError("augment config: a clip goes through one channel at most, so telephone + mp3 + opus "
                           f"cannot exceed 1 (got {self.telephone + self.mp3 + self.opus:g})")
        self._range("snr_db", -20.0, 100.0)
        self._range("pad_s", 0.0, 60.0)
        self._range("pad_dbfs", -120.0, 0.0)
        self._range("mp3_kbps", 8, 160)
        self._range("opus_kbps", 6, 510)
        if self.mp3 > 0 and not _mp3_rates(self.mp3_kbps):
            raise SerError(f"augment config: mp3_kbps {list(self.mp3_kbps)} holds none of MP3's rates at 16 kHz {list(_MPEG2_KBPS)}")
        files = tuple(str(f) for f in self.noise_files)
        missing = [f for f in files if not Path(f).is_file()]
        if missing:
            raise SerError(f"augment config: noise file(s) not found: {', '.join(missing)}")
        object.__setattr__(self, "noise_files", files)

    def _range(self, name: str, low: float, high: float) -> None:
        """Check that field `name` is a ``(min, max)`` pair within ``[low, high]``; store it as a tuple."""
        value = getattr(self, name)
        try:
            pair = tuple(type(low)(v) for v in value)
        except (TypeError, ValueError):
            pair = ()
        if len(pair) != 2 or not low <= pair[0] <= pair[1] <= high:
            raise SerError(f"augment config: {name} must be [min, max] within [{low}, {high}], not {value}")
        object.__setattr__(self, name, pair)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name, value in data.items():
            if isinstance(value, tuple):
                data[name] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AugmentConfig":
        """Build from a dict such as a YAML section; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SerError(f"augment config: unknown key(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(data))


class PeakRelativeNoise(BaseWaveformTransform):
    """Gaussian noise with standard deviation ``U(0, max_fraction) * max|x|`` (audiomentations API)."""

    supports_multichannel = True

    def __init__(self, max_fraction: float = 0.035, p: float = 0.5):
        super().__init__(p)
        self.max_fraction = max_fraction

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["fraction"] = random.uniform(0.0, self.max_fraction)
            self.parameters["noise_seed"] = random.getrandbits(32)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        scale = self.parameters["fraction"] * float(np.abs(samples).max(initial=0.0))
        noise = np.random.default_rng(self.parameters["noise_seed"]).standard_normal(samples.shape)
        return (samples + scale * noise).astype(np.float32)


class SyntheticReverb(BaseWaveformTransform):
    """Convolution with a synthetic room response: a direct path plus exponentially decaying noise.

    RT60 is drawn from ``U(max_rt60 / 5, max_rt60)`` seconds and the direct-to-reverberant energy
    ratio from ``U(0, 10)`` dB; the output keeps the input's length and peak.
    """

    supports_multichannel = False

    def __init__(self, max_rt60: float = 0.5, p: float = 0.5):
        super().__init__(p)
        self.max_rt60 = max_rt60

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["rt60"] = random.uniform(self.max_rt60 / 5, self.max_rt60)
            self.parameters["drr_db"] = random.uniform(0.0, 10.0)
            self.parameters["tail_seed"] = random.getrandbits(32)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        from scipy.signal import fftconvolve

        rt60 = self.parameters["rt60"]
        t = np.arange(1, max(2, int(rt60 * sample_rate))) / sample_rate
        # Amplitude falls by 60 dB (a factor of 1000) over rt60 seconds.
        tail = np.random.default_rng(self.parameters["tail_seed"]).standard_normal(t.shape)
        tail *= np.exp(-np.log(1000.0) * t / rt60)
        tail *= 10 ** (-self.parameters["drr_db"] / 20) / np.sqrt(np.sum(tail**2))
        response = np.concatenate([[1.0], tail])
        wet = fftconvolve(samples, response)[: samples.shape[0]]
        peak_in, peak_out = np.abs(samples).max(initial=0.0), np.abs(wet).max(initial=0.0)
        if peak_out > 0:
            wet *= peak_in / peak_out
        return wet.astype(np.float32)


def coloured_noise(n: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` float32 noise of unit RMS whose power spectrum falls as ``1/f**beta``
    (0 white, 1 pink, 2 brown), shaped in the frequency domain."""
    from scipy.fft import irfft, next_fast_len, rfft

    if n == 0:
        return np.zeros(0, np.float32)
    size = next_fast_len(n, real=True)  # an FFT of a prime length is many times slower
    spectrum = rfft(rng.standard_normal(size, dtype=np.float32))
    f = np.arange(spectrum.shape[0], dtype=np.float32)
    f[0] = 1.0  # the DC bin keeps white noise's level, so short clips stay centred near 0
    noise = irfft(spectrum * f ** (-beta / 2), size)[:n]
    rms = np.sqrt(np.mean(noise**2))
    return (noise / rms).astype(np.float32) if rms > 0 else noise.astype(np.float32)


def add_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal + g * noise`` (both ``(n,)``), `g` setting the signal-to-noise power ratio to
    `snr_db` dB over the whole clip; digital silence, having no SNR to keep, is returned as is."""
    power = float(np.mean(signal.astype(np.float64) ** 2))
    noise_power = float(np.mean(noise.astype(np.float64) ** 2))
    if power == 0.0 or noise_power == 0.0:
        return signal
    scale = np.sqrt(power / noise_power) * 10 ** (-snr_db / 20)
    return (signal + scale * noise).astype(np.float32)


def pad_with_floor(signal: np.ndarray, sr: int, before_s: float, after_s: float, floor_dbfs: float | None,
                   beta: float = 1.0, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """`signal` ``(n,)`` with `before_s` and `after_s` seconds around it, and a noise floor of
    `floor_dbfs` dBFS RMS (``1/f**beta`` spectrum, from `rng`) under the whole padded clip; None
    pads with digital silence. Returns ``(round(before_s * sr) + n + round(after_s * sr),)`` float32."""
    before, after = int(round(before_s * sr)), int(round(after_s * sr))
    out = np.pad(signal.astype(np.float32), (before, after))
    if floor_dbfs is not None:
        out += 10 ** (floor_dbfs / 20) * coloured_noise(out.shape[0], beta, np.random.default_rng(rng))
    return out


@lru_cache(maxsize=32)
def _noise_recording(path: str, sr: int) -> np.ndarray:
    """The mono float32 samples of a noise file at `sr` (read once per process)."""
    import soundfile as sf
    import soxr

    try:
        samples, file_sr = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise SerError(f"augment config: cannot read noise file {path} ({exc})") from None
    mono = samples.mean(axis=1)
    logger.debug("noise file %s: %.1f s at %d Hz", path, mono.shape[0] / file_sr, file_sr)
    if mono.size == 0 or not np.any(mono):
        raise SerError(f"augment config: noise file {path} holds no sound")
    return (soxr.resample(mono, file_sr, sr) if file_sr != sr else mono).astype(np.float32)


def _noise_stretch(path: str, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` samples of the noise file from a random offset, looped if too short."""
    noise = _noise_recording(path, sr)
    start = int(rng.integers(noise.shape[0]))
    return np.resize(np.roll(noise, -start), n)  # np.resize repeats the recording


class NoiseAtSnr(BaseWaveformTransform):
    """Additive noise at ``U(snr_db)`` dB below the clip's power: coloured noise (``1/f**beta``,
    ``beta ~ U(0, 2)``) or, when files are given, half the time a random stretch of one of them."""

    supports_multichannel = False

    def __init__(self, snr_db: tuple[float, float] = (5.0, 30.0), noise_files: Sequence[str] = (), p: float = 0.5):
        super().__init__(p)
        self.snr_db = snr_db
        self.noise_files = tuple(noise_files)

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["snr_db"] = random.uniform(*self.snr_db)
            self.parameters["beta"] = random.uniform(0.0, 2.0)
            use_file = bool(self.noise_files) and random.random() < 0.5
            self.parameters["file"] = random.choice(self.noise_files) if use_file else None
            self.parameters["noise_seed"] = random.getrandbits(32)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        rng = np.random.default_rng(self.parameters["noise_seed"])
        n, path = samples.shape[0], self.parameters["file"]
        noise = _noise_stretch(path, n, sample_rate, rng) if path else coloured_noise(n, self.parameters["beta"], rng)
        return add_at_snr(samples, noise, self.parameters["snr_db"])


class PadAround(BaseWaveformTransform):
    """``U(seconds)`` of digital silence (one time in four) or of a faint noise floor before and,
    independently, after the clip; the floor, at ``U(dbfs)`` dBFS RMS with a ``1/f**beta``
    spectrum (``beta ~ U(0, 2)``), runs under the speech too."""

    supports_multichannel = False

    def __init__(self, seconds: tuple[float, float] = (0.5, 3.0), dbfs: tuple[float, float] = (-60.0, -45.0), p: float = 0.5):
        super().__init__(p)
        self.seconds = seconds
        self.dbfs = dbfs

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["before_s"] = random.uniform(*self.seconds)
            self.parameters["after_s"] = random.uniform(*self.seconds)
            self.parameters["floor_dbfs"] = None if random.random() < 0.25 else random.uniform(*self.dbfs)
            self.parameters["beta"] = random.uniform(0.0, 2.0)
            self.parameters["noise_seed"] = random.getrandbits(32)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        q = self.parameters
        return pad_with_floor(samples, sample_rate, q["before_s"], q["after_s"], q["floor_dbfs"], q["beta"],
                              np.random.default_rng(q["noise_seed"]))


def _mp3_rates(kbps: tuple[int, int]) -> tuple[int, ...]:
    """The MPEG-2 layer III bit rates within ``[kbps[0], kbps[1]]``."""
    return tuple(r for r in _MPEG2_KBPS if kbps[0] <= r <= kbps[1])


# PyAV encoder -> (decoder, rate the encoder runs at: None for the signal's own).
_CODECS = {
    "libmp3lame": ("mp3", None),
    "libopus": ("libopus", None),
    "pcm_mulaw": ("pcm_mulaw", 8000),
    "pcm_alaw": ("pcm_alaw", 8000),
}


def codec_round_trip(signal: np.ndarray, sr: int, codec: str, kbps: int | None = None) -> np.ndarray:
    """`signal` ``(n,)`` float32 at `sr` Hz encoded with PyAV's `codec` (in memory) and decoded
    again: ``(n,)`` float32 at `sr`, aligned with the input (the codecs' priming is dropped).

    codec : "libmp3lame" (MP3), "libopus" (Opus), "pcm_mulaw" or "pcm_alaw" (G.711; these expect
        an 8 kHz signal). Samples beyond full scale are clipped, as a 16-bit file would.
    kbps : the bit rate for MP3 and Opus.
    """
    import av

    decoder_name, _ = _CODECS[codec]
    encoder = av.CodecContext.create(codec, "w")
    encoder.sample_rate, encoder.layout = sr, "mono"
    encoder.format = "s16" if "s16" in {f.name for f in encoder.codec.audio_formats} else "s16p"
    if kbps:
        encoder.bit_rate = int(kbps) * 1000
    encoder.open()
    pcm = np.round(np.clip(signal, -1.0, 32767 / 32768) * 32768).astype(np.int16)
    frame = encoder.frame_size or pcm.shape[0] or 1
    pcm = np.pad(pcm, (0, -pcm.shape[0] % frame))[None]  # whole frames; the tail is cut off below
    packets = []
    for start in range(0, pcm.shape[1], frame):
        chunk = av.AudioFrame.from_ndarray(pcm[:, start : start + frame], format=encoder.format.name, layout="mono")
        chunk.sample_rate, chunk.pts = sr, start
        packets += encoder.encode(chunk)
    packets += encoder.encode(None)

    decoder = av.CodecContext.create(decoder_name, "r")
    decoder.sample_rate, decoder.layout = sr, "mono"
    if encoder.extradata:  # Opus' header: its pre-skip tells the decoder how much priming to drop
        decoder.extradata = encoder.extradata
    frames = [f for packet in packets + [None] for f in decoder.decode(packet)]
    decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]) if frames else np.zeros(0)
    if np.issubdtype(decoded.dtype, np.integer):
        decoded = decoded.astype(np.float32) / 32768
    out_sr = frames[0].sample_rate if frames else sr
    if out_sr != sr:  # libopus decodes at 48 kHz
        import soxr

        decoded = soxr.resample(decoded, out_sr, sr)
    n = signal.shape[0]
    return np.pad(decoded[:n], (0, max(0, n - decoded.shape[0]))).astype(np.float32)


def telephone(signal: np.ndarray, sr: int, law: str = "mulaw") -> np.ndarray:
    """A telephone channel: `signal` ``(n,)`` float32 at `sr` Hz -> 8 kHz, 300-3400 Hz band-pass
    (4th-order Butterworth), G.711 `law` ("mulaw" or "alaw") round trip -> back to `sr`, same length.
    Nothing above 4 kHz survives."""
    import soxr
    from scipy.signal import sosfilt

    narrow = soxr.resample(signal, sr, 8000) if sr != 8000 else signal
    band = sosfilt(_telephone_band(), narrow).astype(np.float32)
    coded = codec_round_trip(band, 8000, f"pcm_{law}")
    wide = soxr.resample(coded, 8000, sr) if sr != 8000 else coded
    n = signal.shape[0]
    return np.pad(wide[:n], (0, max(0, n - wide.shape[0]))).astype(np.float32)


@lru_cache(maxsize=1)
def _telephone_band() -> np.ndarray:
    from scipy.signal import butter

    return butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos")


class Channel(BaseWaveformTransform):
    """At most one transmission channel per clip: telephone with probability `p_telephone`, MP3
    with `p_mp3`, Opus with `p_opus` (see `AugmentConfig`); otherwise the clip passes untouched."""

    supports_multichannel = False

    def __init__(self, p_telephone: float, p_mp3: float, p_opus: float,
                 mp3_kbps: tuple[int, int] = (16, 64), opus_kbps: tuple[int, int] = (8, 32)):
        super().__init__(p=1.0)  # the channel is drawn below, one draw for all three
        self.chances = (("telephone", p_telephone), ("mp3", p_mp3), ("opus", p_opus))
        self.mp3_rates = _mp3_rates(mp3_kbps)
        self.opus_kbps = opus_kbps

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        u, chosen = random.random(), None
        for name, chance in self.chances:
            if u < chance:
                chosen = name
                break
            u -= chance
        self.parameters.update(channel=chosen, law=random.choice(("mulaw", "alaw")),
                               mp3_kbps=random.choice(self.mp3_rates) if self.mp3_rates else None,
                               opus_kbps=random.randint(*self.opus_kbps))

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        channel = self.parameters["channel"]
        if channel == "telephone":
            return telephone(samples, sample_rate, self.parameters["law"])
        if channel == "mp3":
            return codec_round_trip(samples, sample_rate, "libmp3lame", self.parameters["mp3_kbps"])
        if channel == "opus":
            return codec_round_trip(samples, sample_rate, "libopus", self.parameters["opus_kbps"])
        return samples


class Augmenter:
    """Callable ``(signal (n_samples,) float32, sr) -> augmented float32 signal``; see `make_augmenter`.

    The output has the input's length unless padding is on (longer) or ``keep_length`` is off.

    Each call draws fresh random parameters from a generator seeded by ``config.seed``; pass
    ``seed=`` to a call for an output that depends on that seed alone. The global ``random``
    and ``numpy.random`` states (which audiomentations draws from) are set for the call and
    restored afterwards, so the caller's random streams are untouched (not thread-safe: use one
    Augmenter per thread or process, e.g. re-seeded per DataLoader worker with `reseed`).
    """

    def __init__(self, config: AugmentConfig):
        from audiomentations import Compose, Gain, PitchShift, Shift, TimeStretch

        self.config = config
        c = config
        transforms: list = []
        if c.stretch is not None and c.stretch != (1.0, 1.0):
            transforms.append(TimeStretch(min_rate=c.stretch[0], max_rate=c.stretch[1],
                                          leave_length_unchanged=c.keep_length, p=c.p))
        if c.pitch_semitones > 0:
            transforms.append(PitchShift(min_semitones=-c.pitch_semitones, max_semitones=c.pitch_semitones, p=c.p))
        if c.shift > 0:
            transforms.append(Shift(min_shift=-c.shift, max_shift=c.shift, rollover=False, p=c.p))
        if c.reverb > 0:
            transforms.append(SyntheticReverb(max_rt60=c.reverb, p=c.p))
        if c.gain_db > 0:
            transforms.append(Gain(min_gain_db=-c.gain_db, max_gain_db=c.gain_db, p=c.p))
        if c.noise > 0:
            transforms.append(PeakRelativeNoise(max_fraction=c.noise, p=c.p))
        if c.snr > 0:
            transforms.append(NoiseAtSnr(c.snr_db, c.noise_files, p=c.snr))
        if c.pad > 0:
            transforms.append(PadAround(c.pad_s, c.pad_dbfs, p=c.pad))
        if c.telephone + c.mp3 + c.opus > 0:
            transforms.append(Channel(c.telephone, c.mp3, c.opus, c.mp3_kbps, c.opus_kbps))
        self.transforms = transforms
        self._compose = Compose(transforms, p=1.0, shuffle=False) if transforms else None
        self.reseed(c.seed)

    def reseed(self, seed: int) -> None:
        """Restart the sequence of random draws from `seed`."""
        self._rng = np.random.default_rng(seed)

    def __call__(self, signal: np.ndarray, sr: int = 16000, *, seed: int | None = None) -> np.ndarray:
        samples = np.array(signal, dtype=np.float32)  # a copy: transforms may work in place
        if samples.ndim != 1:
            raise ValueError(f"expected a mono signal of shape (n_samples,), got shape {samples.shape}")
        call_seed = int(self._rng.integers(1 << 32)) if seed is None else seed
        if self._compose is None or samples.shape[0] == 0:
            return samples
        with _seeded_globals(call_seed):
            out = self._compose(samples, sr)
        if self.config.recording_conditions:
            out = np.clip(out, -1.0, 1.0)
        return np.ascontiguousarray(out, dtype=np.float32)


def make_augmenter(config: AugmentConfig = AugmentConfig()) -> Augmenter:
    """A seeded, reproducible waveform augmenter for training clips (see `Augmenter`)."""
    return Augmenter(config)


@contextlib.contextmanager
def _seeded_globals(seed: int) -> Iterator[None]:
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def augmented_copies(
    signals: Sequence[np.ndarray],
    indices: Sequence[int],
    augmenter: Callable[..., np.ndarray],
    n_copies: int = 1,
    sr: int = 16000,
) -> tuple[list[np.ndarray], list[int]]:
    """``n_copies`` augmented versions of ``signals[i]`` for every ``i`` in `indices` (training only).

    Returns
    -------
    (copies, sources): the new signals, and for each the index of the clip it came from, so that
    its label and speaker follow it. Originals are not included.
    """
    copies, sources = [], []
    for _ in range(n_copies):
        for index in indices:
            copies.append(augmenter(signals[index], sr))
            sources.append(int(index))
    return copies, sources


def spec_augment(
    features: np.ndarray,
    rng: np.random.Generator | int | None = None,
    n_time_masks: int = 2,
    max_time: int = 20,
    n_freq_masks: int = 2,
    max_freq: int = 8,
    value: float | None = None,
) -> np.ndarray:
    """SpecAugment masking (Park et al. 2019) of a (frames, dims) feature matrix.

    Each time mask hides ``w ~ U{0..max_time}`` consecutive frames and each frequency mask
    ``w ~ U{0..max_freq}`` consecutive columns (both capped by the matrix's size), at uniformly
    drawn positions; masks may overlap.

    Parameters
    ----------
    features : shape (n_frames, n_dims), e.g. log-mel frames.
    rng : a numpy Generator, or a seed.
    value : what masked cells become; None uses the matrix's mean (0 suits standardised input).

    Returns
    -------
    A masked copy, same shape and dtype; `features` is untouched.
    """
    x = np.array(features, copy=True)
    if x.ndim != 2:
        raise ValueError(f"expected features of shape (n_frames, n_dims), got shape {x.shape}")
    rng = np.random.default_rng(rng)
    fill = float(x.mean()) if value is None and x.size else (value or 0.0)
    for axis, count, widest in ((0, n_time_masks, max_time), (1, n_freq_masks, max_freq)):
        size = x.shape[axis]
        for _ in range(count):
            width = int(rng.integers(0, min(widest, size) + 1))
            start = int(rng.integers(0, size - width + 1))
            if axis == 0:
                x[start : start + width, :] = fill
            else:
                x[:, start : start + width] = fill
    return x
