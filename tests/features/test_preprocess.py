"""ser.preprocess: trim, normalise, denoise, and the config that chains them."""

from __future__ import annotations

import numpy as np
import pytest

from ser.errors import SerError
from ser.preprocess import (
    PreprocessConfig,
    loudness,
    normalize_loudness,
    normalize_peak,
    reduce_noise,
    trim_silence,
)

SR = 16000


def padded_tone(tone: np.ndarray) -> np.ndarray:
    """0.5 s silence, the 1 s tone, 0.5 s silence."""
    return np.concatenate([np.zeros(8000, np.float32), tone, np.zeros(8000, np.float32)])


def test_trim_silence_cuts_the_silent_edges(tone):
    trimmed = trim_silence(padded_tone(tone))
    # librosa trims at 512-sample frame resolution.
    assert abs(trimmed.shape[0] - tone.shape[0]) <= 2048
    assert trimmed.dtype == np.float32


def test_trim_keeps_an_all_silent_clip():
    silence = np.zeros(4000, np.float32)
    assert trim_silence(silence).shape == (4000,)


def test_normalize_peak(tone):
    out = normalize_peak(tone * 0.1, peak=0.95)
    assert np.abs(out).max() == pytest.approx(0.95, rel=1e-6)
    assert not np.shares_memory(out, tone)
    assert np.array_equal(normalize_peak(np.zeros(10, np.float32)), np.zeros(10))


def test_normalize_loudness_reaches_the_target(tone):
    quiet = tone * 0.01
    out = normalize_loudness(quiet, target_lufs=-23.0)
    assert loudness(out) == pytest.approx(-23.0, abs=0.1)
    # A sine of amplitude 0.5 has mean square 0.125: -0.691 + 10 log10(0.125) = -9.72 (flat meter).
    assert loudness(tone) == pytest.approx(-9.72, abs=0.5)
    # Loud targets are capped so that nothing clips.
    assert np.abs(normalize_loudness(tone, target_lufs=0.0)).max() <= 0.999 + 1e-6
    assert np.array_equal(normalize_loudness(np.zeros(SR, np.float32)), np.zeros(SR))


def test_reduce_noise_lowers_the_noise_floor(tone):
    rng = np.random.default_rng(0)
    noise = (0.05 * rng.standard_normal(SR // 2)).astype(np.float32)
    noisy = np.concatenate([noise, tone + 0.05 * rng.standard_normal(SR).astype(np.float32)])
    cleaned = reduce_noise(noisy, SR, stationary=True)
    assert cleaned.shape == noisy.shape and cleaned.dtype == np.float32
    # The noise-only half second is attenuated by more than 10 dB.
    assert np.std(cleaned[: SR // 2]) < np.std(noisy[: SR // 2]) / 3


def test_config_applies_steps_in_order(tone):
    config = PreprocessConfig(trim=True, normalize="peak", peak=0.5)
    out = config.apply(padded_tone(tone) * 0.2)
    assert out.shape[0] < padded_tone(tone).shape[0]
    assert np.abs(out).max() == pytest.approx(0.5, rel=1e-6)
    assert np.array_equal(PreprocessConfig().apply(tone), tone)


def test_config_key_names_only_enabled_steps():
    assert PreprocessConfig().key() == "raw"
    assert PreprocessConfig(top_db=20).key() == "raw"  # trim is off, so top_db doesn't matter
    trimmed = PreprocessConfig(trim=True)
    assert trimmed.key() != "raw" and trimmed.key() == PreprocessConfig(trim=True).key()
    assert PreprocessConfig(trim=True, top_db=20).key() != trimmed.key()
    assert PreprocessConfig(normalize="peak").key() != PreprocessConfig(normalize="loudness").key()
    assert PreprocessConfig.from_dict(trimmed.to_dict()) == trimmed
    assert PreprocessConfig.from_dict(None) == PreprocessConfig()


@pytest.mark.parametrize(
    "bad, message",
    [({"normalize": "rms"}, "normalize must be one of"), ({"peak": 1.5}, "peak"), ({"trimm": True}, "unknown key")],
)
def test_bad_configs_say_what_is_wrong(bad, message):
    with pytest.raises(SerError, match=message):
        PreprocessConfig.from_dict(bad)
