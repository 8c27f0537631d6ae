"""ser.features.spectral equals librosa's own functions, computed from one STFT."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from ser.errors import SerError
from ser.features.spectral import (
    FEATURES,
    FeatureConfig,
    extract_frames,
    extract_pooled,
    feature_dims,
    feature_names,
    pool,
    pooled_names,
)

SR = 16000


@pytest.fixture(scope="module")
def speechlike() -> np.ndarray:
    """1.3 s of a gliding harmonic tone with noise and a silent gap: every feature varies."""
    rng = np.random.default_rng(0)
    t = np.arange(int(1.3 * SR)) / SR
    f0 = 120 + 80 * t
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.3
    y = y + 0.01 * rng.standard_normal(t.shape)
    y[8000:9000] = 0.0
    return y.astype(np.float32)


def reference(name: str, y: np.ndarray, c: FeatureConfig) -> np.ndarray:
    """The feature as the usual recipe computes it: librosa on the waveform, its own STFT."""
    stft = dict(n_fft=c.n_fft, hop_length=c.hop_length)
    mfcc = librosa.feature.mfcc(y=y, sr=c.sample_rate, n_mfcc=c.n_mfcc, n_mels=c.n_mels, **stft)
    calls = {
        "zcr": lambda: librosa.feature.zero_crossing_rate(y, frame_length=c.n_fft, hop_length=c.hop_length),
        "rms": lambda: librosa.feature.rms(y=y, frame_length=c.n_fft, hop_length=c.hop_length),
        "mfcc": lambda: mfcc,
        "mfcc_delta": lambda: librosa.feature.delta(mfcc, width=c.delta_width),
        "mfcc_delta2": lambda: librosa.feature.delta(mfcc, width=c.delta_width, order=2),
        "chroma": lambda: librosa.feature.chroma_stft(
            y=y, sr=c.sample_rate, n_chroma=c.n_chroma, tuning=c.chroma_tuning, **stft
        ),
        "logmel": lambda: librosa.power_to_db(
            librosa.feature.melspectrogram(y=y, sr=c.sample_rate, n_mels=c.n_mels, **stft)
        ),
        "spectral_centroid": lambda: librosa.feature.spectral_centroid(y=y, sr=c.sample_rate, **stft),
        "spectral_bandwidth": lambda: librosa.feature.spectral_bandwidth(y=y, sr=c.sample_rate, **stft),
        "spectral_rolloff": lambda: librosa.feature.spectral_rolloff(y=y, sr=c.sample_rate, **stft),
        "spectral_flatness": lambda: librosa.feature.spectral_flatness(y=y, **stft),
        "spectral_contrast": lambda: librosa.feature.spectral_contrast(y=y, sr=c.sample_rate, **stft),
    }
    return calls[name]().T


def assert_equal_to_librosa(y: np.ndarray, config: FeatureConfig) -> None:
    frames = extract_frames(y, config)
    assert frames.dtype == np.float32
    assert frames.shape == (1 + len(y) // config.hop_length, sum(d for _, d in feature_dims(config)))
    start = 0
    for name, dims in feature_dims(config):
        expected = reference(name, y, config)
        # Both sides run the same librosa code on the same float32 STFT; the only difference is
        # the order of float32 sums in a matrix product (np.matmul here, np.einsum in librosa),
        # a few float32 ulps of the block's largest value.
        scale = float(np.abs(expected).max()) or 1.0
        np.testing.assert_allclose(
            frames[:, start : start + dims], expected, rtol=1e-4, atol=1e-5 * scale, err_msg=name
        )
        start += dims


ALL = FeatureConfig(names=tuple(FEATURES))


def test_every_feature_equals_librosa(speechlike):
    assert_equal_to_librosa(speechlike, ALL)


def test_estimated_chroma_tuning_equals_librosa_default(speechlike):
    assert_equal_to_librosa(speechlike, FeatureConfig(names=("chroma",), chroma_tuning=None))


def test_other_stft_sizes_equal_librosa(speechlike):
    config = FeatureConfig(
        names=("zcr", "rms", "mfcc", "mfcc_delta", "chroma", "logmel"),
        n_fft=512, hop_length=160, n_mfcc=13, n_mels=40, n_chroma=24, delta_width=5,
    )
    assert_equal_to_librosa(speechlike, config)


def test_real_clip_equals_librosa(datasets_dir):
    from ser.audio import load

    clip = next((datasets_dir / "RAVDESS").rglob("*.flac"))
    assert_equal_to_librosa(load(clip), FeatureConfig(names=("zcr", "rms", "mfcc", "chroma", "logmel")))


def test_dims_and_names_follow_the_config():
    config = FeatureConfig(names=("mfcc", "zcr", "spectral_contrast"), n_mfcc=13, stats=("mean", "max"))
    assert feature_dims(config) == [("mfcc", 13), ("zcr", 1), ("spectral_contrast", 7)]
    names = feature_names(config)
    assert names[:2] == ["mfcc_0", "mfcc_1"] and names[13] == "zcr" and len(names) == 21
    assert pooled_names(config)[0] == "mfcc_0_mean" and pooled_names(config)[21] == "mfcc_0_max"
    default = FeatureConfig()
    assert sum(d for _, d in feature_dims(default)) == 1 + 1 + 40 + 12 + 128


def test_short_clips_still_give_frames():
    # 0.1 s: 4 frames, narrower than the 9-frame delta window; 1 sample: a single frame.
    config = FeatureConfig(names=("zcr", "mfcc", "mfcc_delta", "mfcc_delta2", "chroma"))
    rng = np.random.default_rng(1)
    short = extract_frames(rng.standard_normal(1600).astype(np.float32), config)
    assert short.shape == (4, 1 + 40 * 3 + 12) and np.isfinite(short).all()
    # The delta window shrinks to the clip: 3 frames here, as librosa.feature.delta(width=3).
    np.testing.assert_allclose(short[:, 41:81].T, librosa.feature.delta(short[:, 1:41].T, width=3), rtol=1e-5)
    single = extract_frames(np.array([0.5], dtype=np.float32), config)
    assert single.shape == (1, 133) and np.isfinite(single).all()


def test_silence_is_finite():
    frames = extract_frames(np.zeros(SR, dtype=np.float32), ALL)
    assert np.isfinite(frames).all()


def test_bad_signals_are_refused():
    with pytest.raises(ValueError, match="empty"):
        extract_frames(np.zeros(0, dtype=np.float32))
    with pytest.raises(ValueError, match="mono"):
        extract_frames(np.zeros((2, 100), dtype=np.float32))


def test_pool_statistics():
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((50, 3)).astype(np.float32)
    frames[:, 2] = 7.0  # a constant column: skew and kurtosis are taken as 0
    stats = ("mean", "std", "min", "max", "median", "skew", "kurtosis")
    pooled = pool(frames, stats).reshape(len(stats), 3)
    from scipy import stats as sps

    x = frames.astype(np.float64)
    np.testing.assert_allclose(pooled[0], x.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pooled[1], x.std(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pooled[2], x.min(0))
    np.testing.assert_allclose(pooled[3], x.max(0))
    np.testing.assert_allclose(pooled[4], np.median(x, 0))
    np.testing.assert_allclose(pooled[5, :2], sps.skew(x[:, :2]), rtol=1e-5)
    np.testing.assert_allclose(pooled[6, :2], sps.kurtosis(x[:, :2]), rtol=1e-5)
    assert pooled[5, 2] == 0 and pooled[6, 2] == 0
    assert pool(frames).shape == (6,) and pool(frames).dtype == np.float32


def test_extract_pooled_is_pool_of_frames(speechlike):
    config = FeatureConfig(names=("rms", "mfcc"), stats=("mean", "std", "max"))
    pooled = extract_pooled(speechlike, config)
    assert pooled.shape == (41 * 3,)
    np.testing.assert_array_equal(pooled, pool(extract_frames(speechlike, config), config.stats))


def test_config_round_trip_and_key():
    config = FeatureConfig(names=("mfcc", "chroma"), n_mfcc=20, stats=("mean",))
    data = config.to_dict()
    assert data["names"] == ["mfcc", "chroma"]
    again = FeatureConfig.from_dict(data)
    assert again == config and again.key() == config.key()
    assert len(config.key()) == 16
    assert FeatureConfig(names=("mfcc", "chroma"), n_mfcc=21, stats=("mean",)).key() != config.key()
    assert FeatureConfig(names=("chroma", "mfcc"), n_mfcc=20, stats=("mean",)).key() != config.key()


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"names": ["mfcc", "pitch"]}, "unknown feature 'pitch'"),
        ({"names": []}, "at least one feature"),
        ({"names": ["mfcc", "mfcc"]}, "listed twice"),
        ({"stats": ["mean", "mode"]}, "unknown statistic"),
        ({"n_fft": 0}, "n_fft must be a positive integer"),
        ({"n_mfcc": 200}, "cannot exceed n_mels"),
        ({"delta_width": 4}, "delta_width"),
        ({"chroma_tuning": 0.7}, "chroma_tuning"),
        ({"n_fft": 2048, "hop": 512}, "unknown key"),
    ],
)
def test_bad_configs_say_what_is_wrong(bad, message):
    with pytest.raises(SerError, match=message):
        FeatureConfig.from_dict(bad)


def test_importing_the_package_stays_light():
    import os
    import subprocess
    import sys

    code = (
        "import sys, ser.features, ser.features.logmel; "
        "heavy = [m for m in ('librosa', 'opensmile', 'torch', 'scipy') if m in sys.modules]; "
        "assert not heavy, heavy; "
        "from ser.features import FeatureConfig; assert 'librosa' in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
