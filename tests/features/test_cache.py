"""ser.features.cache: content-keyed, atomic, parallel feature computation."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser.audio import AudioNotFoundError, NotAudioError
from ser.features.cache import FeatureCache, compute_features, file_digest
from ser.features.spectral import FeatureConfig, extract_pooled
from ser.preprocess import PreprocessConfig

SR = 16000
CALLS: list[int] = []


def summary(signal: np.ndarray) -> np.ndarray:
    """A cheap extractor that counts its calls in this process."""
    CALLS.append(1)
    return np.array([signal.shape[0], float(np.abs(signal).max())], dtype=np.float32)


def summary_marking(signal: np.ndarray, marks: str) -> np.ndarray:
    """The same, leaving a file per call in `marks`, which worker processes can do too."""
    Path(marks, f"{np.random.default_rng().integers(1 << 62)}").touch()
    return np.array([signal.shape[0], float(np.abs(signal).max())], dtype=np.float32)


@pytest.fixture
def clips(tmp_path) -> list[str]:
    """Four short FLAC tones of different lengths and pitches."""
    folder = tmp_path / "audio"
    folder.mkdir()
    paths = []
    for i in range(4):
        t = np.arange(SR // 4 * (i + 1)) / SR
        path = folder / f"clip{i}.flac"
        sf.write(path, 0.2 * (i + 1) * np.sin(2 * np.pi * 200 * (i + 1) * t), SR)
        paths.append(str(path))
    return paths


def test_second_run_reads_the_cache(clips, tmp_path):
    CALLS.clear()
    first = compute_features(clips, summary, "summary", tmp_path / "cache", n_jobs=1, progress=False)
    assert len(CALLS) == 4
    assert [int(a[0]) for a in first] == [4000, 8000, 12000, 16000]
    second = compute_features(clips, summary, "summary", tmp_path / "cache", n_jobs=1, progress=False)
    assert len(CALLS) == 4  # nothing recomputed
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_cache_follows_content_not_path(clips, tmp_path):
    CALLS.clear()
    compute_features(clips, summary, "summary", tmp_path / "cache", n_jobs=1, progress=False)
    moved = tmp_path / "renamed.flac"
    shutil.copy(clips[0], moved)
    compute_features([str(moved)], summary, "summary", tmp_path / "cache", n_jobs=1, progress=False)
    assert len(CALLS) == 4  # same bytes under a new name: a hit
    sf.write(clips[0], np.zeros(100), SR)  # same name, new bytes: a miss
    out = compute_features(clips[:1], summary, "summary", tmp_path / "cache", n_jobs=1, progress=False)
    assert len(CALLS) == 5 and out[0][0] == 100


def test_key_and_preprocessing_change_the_entry(clips, tmp_path):
    CALLS.clear()
    cache = tmp_path / "cache"
    compute_features(clips, summary, "a", cache, n_jobs=1, progress=False)
    compute_features(clips, summary, "b", cache, n_jobs=1, progress=False)
    assert len(CALLS) == 8
    peak = PreprocessConfig(normalize="peak", peak=0.5)
    out = compute_features(clips, summary, "a", cache, n_jobs=1, preprocess=peak, progress=False)
    assert len(CALLS) == 12
    assert all(a[1] == pytest.approx(0.5) for a in out)  # preprocessing ran before the extractor
    compute_features(clips, summary, "a", cache, n_jobs=1, preprocess=peak, progress=False)
    assert len(CALLS) == 12


def test_parallel_workers_fill_and_reuse_the_cache(clips, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    extractor = functools.partial(summary_marking, marks=str(marks))
    first = compute_features(clips, extractor, "mark", tmp_path / "cache", n_jobs=2, progress=False)
    assert len(list(marks.iterdir())) == 4
    assert [int(a[0]) for a in first] == [4000, 8000, 12000, 16000]  # input order kept
    compute_features(clips, extractor, "mark", tmp_path / "cache", n_jobs=2, progress=False)
    assert len(list(marks.iterdir())) == 4


def summary_with_pid(signal: np.ndarray) -> np.ndarray:
    import os

    return np.array([signal.shape[0], os.getpid()], dtype=np.float64)


def test_the_first_clip_runs_here_before_the_workers(clips):
    """So that numba's on-disk caches are written once, not by every worker at once (numba#10128)."""
    import os

    out = compute_features(clips, summary_with_pid, "pid", None, n_jobs=2, progress=False)
    assert int(out[0][1]) == os.getpid()
    assert [int(a[0]) for a in out] == [4000, 8000, 12000, 16000]


def test_real_features_without_cache(clips):
    config = FeatureConfig(names=("rms", "mfcc"), n_mfcc=13)
    extractor = functools.partial(extract_pooled, config=config)
    out = compute_features(clips, extractor, config.key(), None, n_jobs=1, progress=False)
    assert [a.shape for a in out] == [(28,)] * 4


def test_writes_are_atomic(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    target = cache.put("ab" * 20, "k", np.arange(3))
    np.testing.assert_array_equal(cache.get("ab" * 20, "k"), np.arange(3))

    def crash(handle, array, allow_pickle):
        handle.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.put("cd" * 20, "k", np.arange(3))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [target]  # no partial entry, no temporary left behind
    assert cache.get("cd" * 20, "k") is None


def test_a_corrupt_entry_is_recomputed(clips, tmp_path):
    CALLS.clear()
    compute_features(clips[:1], summary, "s", tmp_path / "cache", n_jobs=1, progress=False)
    entry = FeatureCache(tmp_path / "cache").path(file_digest(clips[0]), "s-raw-16000")
    entry.write_bytes(b"garbage")
    compute_features(clips[:1], summary, "s", tmp_path / "cache", n_jobs=1, progress=False)
    assert len(CALLS) == 2


def test_bad_files_are_named(clips, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all, just text " * 20)
    with pytest.raises(NotAudioError, match="notes.wav"):
        compute_features(clips + [str(bad)], summary, "s", tmp_path / "cache", n_jobs=2, progress=False)
    with pytest.raises(AudioNotFoundError, match="missing.wav"):
        compute_features([str(tmp_path / "missing.wav")], summary, "s", tmp_path / "cache", progress=False)
    # What was computed before the failure stays cached.
    CALLS.clear()
    compute_features(clips, summary, "s", tmp_path / "cache", n_jobs=1, progress=False)
    assert len(CALLS) < 4
