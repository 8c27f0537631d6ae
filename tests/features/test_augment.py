"""ser.augment: reproducible waveform augmentation and SpecAugment masks."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ser.augment import AugmentConfig, augmented_copies, make_augmenter, spec_augment
from ser.errors import SerError

SR = 16000
NOISE_ONLY = dict(shift=0.0, stretch=None, pitch_semitones=0.0, gain_db=0.0, reverb=0.0, p=1.0)


@pytest.fixture
def voice(tone) -> np.ndarray:
    """The tone with a silent half second in the middle, so that shifts are visible."""
    y = tone.copy()
    y[6000:14000] = 0.0
    return y


def test_same_seed_same_outputs(voice):
    config = AugmentConfig(reverb=0.3, p=0.9, seed=7)
    first, second = make_augmenter(config), make_augmenter(config)
    for _ in range(4):
        np.testing.assert_array_equal(first(voice, SR), second(voice, SR))
    other = make_augmenter(AugmentConfig(reverb=0.3, p=0.9, seed=8))
    assert not np.array_equal(make_augmenter(config)(voice, SR), other(voice, SR))


def test_per_call_seed_ignores_call_order(voice):
    augment = make_augmenter(AugmentConfig(seed=1, p=1.0))
    a = augment(voice, SR, seed=42)
    augment(voice, SR)
    np.testing.assert_array_equal(augment(voice, SR, seed=42), a)


def test_callers_random_state_is_untouched(voice):
    random.seed(3)
    np.random.seed(3)
    expected = (random.random(), np.random.random())
    random.seed(3)
    np.random.seed(3)
    make_augmenter(AugmentConfig(p=1.0))(voice, SR)
    assert (random.random(), np.random.random()) == expected


def test_shapes_and_dtype_are_kept(voice):
    augment = make_augmenter(AugmentConfig(p=1.0, reverb=0.4, seed=2))
    for _ in range(5):
        out = augment(voice, SR)
        assert out.shape == voice.shape and out.dtype == np.float32
        assert np.isfinite(out).all()
    assert not np.shares_memory(out, voice)


def test_noise_is_bounded_by_the_fraction_of_peak(voice):
    augment = make_augmenter(AugmentConfig(noise=0.035, seed=4, **NOISE_ONLY))
    peak = np.abs(voice).max()
    levels = [np.std(augment(voice, SR) - voice) / peak for _ in range(30)]
    # The noise's standard deviation is U(0, 0.035) x peak; 16000 samples estimate it within ~2 %.
    assert max(levels) <= 0.035 * 1.05
    assert max(levels) > 0.02 and min(levels) < 0.015  # it really varies over the range


def test_disabled_config_is_identity(voice):
    config = AugmentConfig(noise=0.0, **{**NOISE_ONLY, "p": 1.0})
    np.testing.assert_array_equal(make_augmenter(config)(voice, SR), voice)


def test_each_transform_changes_the_signal(voice):
    base = dict(noise=0.0, shift=0.0, stretch=None, pitch_semitones=0.0, gain_db=0.0, reverb=0.0, p=1.0)
    for change in ({"shift": 0.3}, {"stretch": (0.8, 0.9)}, {"pitch_semitones": 4.0},
                   {"gain_db": 6.0}, {"reverb": 0.5}):
        out = make_augmenter(AugmentConfig(**{**base, **change}, seed=5))(voice, SR)
        assert out.shape == voice.shape and not np.allclose(out, voice, atol=1e-3), change


def test_stretch_may_change_length_when_asked(voice):
    config = AugmentConfig(**{**NOISE_ONLY, "noise": 0.0, "stretch": (0.5, 0.5)}, keep_length=False)
    assert abs(make_augmenter(config)(voice, SR).shape[0] - 2 * voice.shape[0]) < 0.05 * voice.shape[0]


def test_augmented_copies_follow_their_sources(voice):
    signals = [voice, voice * 0.5, voice * 0.25]
    copies, sources = augmented_copies(signals, [0, 2], make_augmenter(AugmentConfig(seed=0)), n_copies=2)
    assert sources == [0, 2, 0, 2] and len(copies) == 4
    assert all(c.shape == voice.shape for c in copies)


def test_spec_augment_masks():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((100, 40)).astype(np.float32) + 5.0
    masked = spec_augment(features, np.random.default_rng(1), n_time_masks=2, max_time=10,
                          n_freq_masks=2, max_freq=5, value=0.0)
    assert masked.shape == features.shape and masked.dtype == features.dtype
    assert features.min() > 0  # the input is untouched
    zero_rows = np.flatnonzero((masked == 0).all(axis=1))
    zero_cols = np.flatnonzero((masked == 0).all(axis=0))
    assert len(zero_rows) <= 20 and len(zero_cols) <= 10
    changed = masked != features
    # Every changed cell lies in a masked row or column.
    assert np.array_equal(changed, np.isin(np.arange(100), zero_rows)[:, None] | np.isin(np.arange(40), zero_cols)[None, :])
    again = spec_augment(features, np.random.default_rng(1), 2, 10, 2, 5, value=0.0)
    np.testing.assert_array_equal(again, masked)
    # Masks over the matrix's size are capped; the default fill is the mean.
    small = spec_augment(np.ones((3, 2)), 0, n_time_masks=1, max_time=50, n_freq_masks=1, max_freq=50)
    assert small.shape == (3, 2) and np.all(small == 1.0)


def test_spec_augment_masks_something_eventually():
    features = np.arange(200.0).reshape(50, 4)
    masked = [spec_augment(features, seed, 1, 10, 0, 0) for seed in range(20)]
    assert any((m != features).any() for m in masked)


@pytest.mark.parametrize(
    "bad, message",
    [({"p": 2}, "p must"), ({"stretch": [1.5, 1.0]}, "stretch"), ({"noise": -1}, "noise"), ({"nois": 0.1}, "unknown key")],
)
def test_bad_configs_say_what_is_wrong(bad, message):
    with pytest.raises(SerError, match=message):
        AugmentConfig.from_dict(bad)


def test_config_round_trip():
    config = AugmentConfig(stretch=[0.9, 1.1], reverb=0.3)
    assert config.stretch == (0.9, 1.1)
    assert AugmentConfig.from_dict(config.to_dict()) == config
