"""ser.augment's recording conditions: noise at an SNR, padding, telephone, MP3 and Opus channels."""

from __future__ import annotations

import random

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate

from ser.augment import AugmentConfig, Channel, codec_round_trip, make_augmenter, telephone
from ser.errors import SerError

SR = 16000
# Every classic transform off, so that one recording condition can be looked at alone.
QUIET = dict(noise=0.0, shift=0.0, stretch=None, pitch_semitones=0.0, gain_db=0.0, reverb=0.0)


@pytest.fixture
def speechlike() -> np.ndarray:
    """2 s of a 120-180 Hz glide with harmonics up to 8 kHz, syllable-modulated (float32, peak ~0.5)."""
    t = np.arange(2 * SR) / SR
    phase = 2 * np.pi * (120 * t + 15 * t**2)
    y = sum(np.sin(k * phase) / k for k in range(1, 60) if k * 180 < SR / 2)
    y *= 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def band_share(y: np.ndarray, low_hz: float) -> float:
    """Share of `y`'s energy above `low_hz`."""
    power = np.abs(np.fft.rfft(y)) ** 2
    return float(power[np.fft.rfftfreq(y.shape[0], 1 / SR) > low_hz].sum() / power.sum())


def lag_of(y: np.ndarray, x: np.ndarray, most: int = 400) -> int:
    """The shift of `y` against `x` (samples, positive: `y` late) with the largest correlation."""
    n = x.shape[0] - 2 * most
    scores = [np.dot(y[most + lag : most + lag + n], x[most : most + n]) for lag in range(-most, most + 1)]
    return int(np.argmax(scores)) - most


def test_recordings_preset_is_deterministic_and_well_formed(speechlike):
    config = AugmentConfig.recordings(seed=3)
    first, second = make_augmenter(config), make_augmenter(config)
    lengths = set()
    for seed in range(12):
        a, b = first(speechlike, SR, seed=seed), second(speechlike, SR, seed=seed)
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.float32 and a.ndim == 1 and np.isfinite(a).all() and np.abs(a).max() <= 1.0
        extra = (a.shape[0] - speechlike.shape[0]) / SR
        assert extra == 0 or 1.0 <= extra <= 6.0  # 0.5-3 s each side when padded
        lengths.add(a.shape[0])
    assert len(lengths) > 2  # some clips padded, by different amounts
    other = make_augmenter(AugmentConfig.recordings(seed=4))
    assert not all(np.array_equal(first(speechlike, SR), other(speechlike, SR)) for _ in range(3))


def test_classic_defaults_are_unchanged():
    config = AugmentConfig()
    assert not config.recording_conditions
    assert [type(t).__name__ for t in make_augmenter(config).transforms] == [
        "TimeStretch", "PitchShift", "Shift", "Gain", "PeakRelativeNoise"]


def test_silence_and_empty_input_give_finite_output():
    augment = make_augmenter(AugmentConfig.recordings(seed=0, pad=1.0, snr=1.0))
    silent = augment(np.zeros(SR, np.float32), SR, seed=1)
    assert np.isfinite(silent).all() and silent.shape[0] > SR
    assert augment(np.zeros(0, np.float32), SR).shape == (0,)


def test_telephone_keeps_nothing_above_4_khz(speechlike):
    assert band_share(speechlike, 4000) > 0.005
    for law in ("mulaw", "alaw"):
        phone = telephone(speechlike, SR, law)
        assert phone.shape == speechlike.shape and phone.dtype == np.float32
        assert band_share(phone, 4000) < 1e-5
        assert band_share(phone, 300) > 0.9  # and little below the band's 300 Hz
    assert not np.allclose(telephone(speechlike, SR, "mulaw"), telephone(speechlike, SR, "alaw"), atol=1e-4)


@pytest.mark.parametrize("law, levels", [("mulaw", 256), ("alaw", 256)])
def test_g711_round_trip_quantises_to_8_bits(law, levels):
    ramp = np.linspace(-0.9, 0.9, 8000, dtype=np.float32)
    coded = codec_round_trip(ramp, 8000, f"pcm_{law}")
    assert coded.shape == ramp.shape
    assert len(np.unique(coded)) <= levels
    # Companding: small samples keep a finer step than large ones.
    error = np.abs(coded - ramp)
    assert error[np.abs(ramp) < 0.01].max() < 0.001 < error[np.abs(ramp) > 0.8].max() < 0.05


def test_mp3_and_opus_round_trips_change_the_signal_but_stay_aligned(speechlike):
    for codec, kbps in (("libmp3lame", 32), ("libmp3lame", 16), ("libopus", 12)):
        coded = codec_round_trip(speechlike, SR, codec, kbps)
        assert coded.shape == speechlike.shape and coded.dtype == np.float32, codec
        assert abs(lag_of(coded, speechlike)) <= 1, codec  # the priming samples are dropped
        error = np.std(coded - speechlike) / np.std(speechlike)
        assert 0.005 < error < 0.7, (codec, kbps, error)


def test_low_bit_rates_drop_the_high_band():
    noise = (0.1 * np.random.default_rng(0).standard_normal(2 * SR)).astype(np.float32)
    assert band_share(noise, 6000) > 0.2
    assert band_share(codec_round_trip(noise, SR, "libmp3lame", 16), 6000) < 1e-4
    assert band_share(codec_round_trip(noise, SR, "libopus", 8), 4500) < 1e-3  # narrowband Opus


@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_noise_lands_at_the_drawn_snr(speechlike, snr):
    augment = make_augmenter(AugmentConfig(**QUIET, snr=1.0, snr_db=(snr, snr), seed=2))
    for seed in range(4):
        noise = augment(speechlike, SR, seed=seed) - speechlike
        measured = 10 * np.log10(np.mean(speechlike**2) / np.mean(noise**2))
        assert abs(measured - snr) < 0.2


def test_noise_files_are_used(tmp_path, speechlike):
    hum = (0.2 * np.sin(2 * np.pi * 50 * np.arange(SR // 2) / 22050)).astype(np.float32)
    path = tmp_path / "hum.wav"
    sf.write(path, hum, 22050)
    augment = make_augmenter(AugmentConfig(**QUIET, snr=1.0, snr_db=(10, 10), noise_files=[str(path)]))
    hums = 0
    for seed in range(10):
        noise = augment(speechlike, SR, seed=seed) - speechlike
        hums += band_share(noise, 100) < 0.01  # the 50 Hz hum, not broadband noise
    assert 2 <= hums <= 8


def test_padding_adds_silence_or_a_faint_floor(speechlike):
    augment = make_augmenter(AugmentConfig(**QUIET, pad=1.0, seed=5))
    floors = set()
    for seed in range(16):
        out = augment(speechlike, SR, seed=seed)
        extra = out.shape[0] - speechlike.shape[0]
        assert SR <= extra <= 6 * SR
        head = out[: SR // 2]  # always padding: at least 0.5 s each side
        rms = np.sqrt(np.mean(head.astype(np.float64) ** 2))
        if rms == 0:
            floors.add("silence")
        else:
            # -60..-45 dBFS over the whole clip; half a second of brown noise may stray a few dB.
            assert -70 < 20 * np.log10(rms) < -38
            floors.add("floor")
        # The clip itself sits 0.5-3 s in, untouched but for the floor under it.
        before = int(np.argmax(correlate(out, speechlike, mode="valid", method="fft")))
        assert SR // 2 <= before <= 3 * SR and SR // 2 <= extra - before <= 3 * SR
        residual = out[before : before + speechlike.shape[0]] - speechlike
        assert np.sqrt(np.mean(residual.astype(np.float64) ** 2)) < 10 ** (-44 / 20)
    assert floors == {"silence", "floor"}


def test_one_channel_at_most_with_the_given_chances(speechlike):
    channel = Channel(0.3, 0.2, 0.1)
    counts: dict = {}
    random.seed(0)
    for _ in range(2000):
        channel.randomize_parameters(speechlike, SR)
        counts[channel.parameters["channel"]] = counts.get(channel.parameters["channel"], 0) + 1
    for name, chance in (("telephone", 0.3), ("mp3", 0.2), ("opus", 0.1), (None, 0.4)):
        assert abs(counts[name] / 2000 - chance) < 0.04, name


def test_each_channel_reaches_the_output(speechlike):
    for name in ("telephone", "mp3", "opus"):
        config = AugmentConfig(**QUIET, **{name: 1.0}, mp3_kbps=(16, 16), opus_kbps=(8, 8))
        out = make_augmenter(config)(speechlike, SR, seed=0)
        assert out.shape == speechlike.shape
        assert band_share(out, 4200 if name != "mp3" else 6000) < 1e-3, name


@pytest.mark.parametrize(
    "bad, message",
    [({"telephone": 0.6, "mp3": 0.5}, "one channel at most"), ({"snr": 1.5}, "snr is a probability"),
     ({"snr_db": [30, 5]}, "snr_db must be"), ({"pad_dbfs": [-50, 3]}, "pad_dbfs"),
     ({"mp3": 0.5, "mp3_kbps": [17, 23]}, "none of MP3's rates"), ({"noise_files": ["/no/such.wav"]}, "not found")],
)
def test_bad_recording_settings_say_what_is_wrong(bad, message):
    with pytest.raises(SerError, match=message):
        AugmentConfig.from_dict(bad)


def test_unreadable_noise_file_is_a_clear_error(tmp_path, speechlike):
    path = tmp_path / "noise.wav"
    path.write_text("not audio")
    augment = make_augmenter(AugmentConfig(**QUIET, snr=1.0, noise_files=[str(path)]))
    with pytest.raises(SerError, match="cannot read noise file"):
        for seed in range(20):  # half of the noisy draws take the file
            augment(speechlike, SR, seed=seed)


def test_recordings_config_round_trips():
    config = AugmentConfig.recordings(seed=7, opus=0.0)
    assert config.opus == 0.0 and config.recording_conditions
    assert AugmentConfig.from_dict(config.to_dict()) == config
