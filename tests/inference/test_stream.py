"""Streaming gives the offline sliding-window predictions, chunk sizes notwithstanding."""

from __future__ import annotations

import numpy as np
import pytest

from inference_helpers import SR, real_speech


def _feed_randomly(stream, signal, seed, as_bytes=False):
    rng = np.random.default_rng(seed)
    updates, position = [], 0
    while position < signal.shape[0]:
        size = int(rng.choice([1, 7, 160, 1000, 4000, 17000, 40000]))
        chunk = signal[position : position + size]
        position += size
        updates += stream.feed(chunk.tobytes() if as_bytes else chunk, dtype=str(signal.dtype))
    return updates + stream.flush()


@pytest.mark.parametrize("seconds, window, hop", [(6.3, 2.0, 1.0), (5.0, 2.0, 1.0), (1.2, 2.0, 1.0), (4.0, 1.0, 1.5)])
def test_stream_equals_offline_windows(recognizer, seconds, window, hop):
    signal = np.concatenate([np.zeros(SR // 2, np.float32), real_speech(seconds - 0.5, seed=4)])
    offline = recognizer.timeline(signal, sr=SR, vad=False, window=window, hop=hop).segments
    for seed in range(3):
        updates = _feed_randomly(recognizer.stream(window=window, hop=hop), signal, seed)
        assert [(u.start_s, u.end_s) for u in updates] == [(s.start_s, s.end_s) for s in offline]
        for update, segment in zip(updates, offline):
            assert update.prediction.label == segment.label
            np.testing.assert_allclose(list(update.prediction.scores.values()), list(segment.scores.values()), atol=1e-5)


def test_int16_bytes_with_odd_splits(recognizer):
    signal = (real_speech(3.0) * 32767).astype(np.int16)
    offline = recognizer.timeline(signal, sr=SR, vad=False).segments
    updates = _feed_randomly(recognizer.stream(), signal, seed=1, as_bytes=True)
    assert len(updates) == len(offline)
    for update, segment in zip(updates, offline):
        np.testing.assert_allclose(list(update.prediction.scores.values()), list(segment.scores.values()), atol=1e-5)


def test_updates_arrive_once_per_hop_and_memory_is_bounded(recognizer):
    stream = recognizer.stream(window=2.0, hop=1.0)
    ring = stream._ring
    assert stream.feed(np.zeros(SR, np.float32)) == []
    counts = [len(stream.feed(real_speech(0.5, seed=i))) for i in range(8)]
    assert counts == [0, 1, 0, 1, 0, 1, 0, 1]
    assert stream._ring is ring and ring.shape == (2 * SR,)
    assert stream.time_s == pytest.approx(5.0)
    assert stream.flush() == []  # every sample already covered


def test_is_speech(recognizer):
    stream = recognizer.stream(window=1.0, hop=1.0)
    updates = stream.feed(np.concatenate([real_speech(1.0), np.zeros(SR, np.float32), real_speech(1.0, seed=2)]))
    assert [u.is_speech for u in updates] == [True, False, True]
    assert updates[0].to_dict()["is_speech"] is True


def test_resampled_stream(recognizer):
    import soxr

    signal = soxr.resample(real_speech(3.0), SR, 8000).astype(np.float32)
    updates = _feed_randomly(recognizer.stream(sr=8000), signal, seed=0)
    assert [(u.start_s, u.end_s) for u in updates] == [(0, 2), (1, 3)]
    offline = recognizer.timeline(signal, sr=8000, vad=False).segments
    for update, segment in zip(updates, offline):
        np.testing.assert_allclose(update.prediction.confidence, segment.confidence, atol=0.02)


def test_bad_chunks(recognizer):
    stream = recognizer.stream()
    with pytest.raises(ValueError, match="1-D"):
        stream.feed(np.zeros((2, 10), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        stream.feed(np.array([np.nan], np.float32))
    with pytest.raises(ValueError, match="dtype"):
        stream.feed(b"\x00\x00", dtype="int8")
    with pytest.raises(ValueError, match="positive"):
        recognizer.stream(hop=0)
