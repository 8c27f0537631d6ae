"""ser.features.egemaps: 88 finite eGeMAPS v02 functionals per clip."""

from __future__ import annotations

import numpy as np
import pytest

from ser.features.egemaps import EGEMAPS_DIM, egemaps_names, extract_egemaps


def test_tone_gives_88_finite_values(tone):
    values = extract_egemaps(tone)
    assert values.shape == (EGEMAPS_DIM,) and values.dtype == np.float32
    assert np.isfinite(values).all()
    names = egemaps_names()
    assert len(names) == EGEMAPS_DIM and names[0].startswith("F0semitone")
    # A steady 220 Hz tone: mean pitch is 12 * log2(220 / 27.5) = 36 semitones above 27.5 Hz.
    assert values[0] == pytest.approx(36.0, abs=0.5)


def test_values_differ_between_clips(tone):
    low = extract_egemaps(tone)
    t = np.arange(16000) / 16000
    high = extract_egemaps((0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32))
    assert high[0] > low[0] + 5


def test_very_short_and_silent_clips_are_finite():
    for signal in (np.full(10, 0.1, dtype=np.float32), np.zeros(16000, dtype=np.float32)):
        assert np.isfinite(extract_egemaps(signal)).all()


def test_real_clip(datasets_dir):
    from ser.audio import load

    clip = next((datasets_dir / "EmoDB").rglob("*.flac"))
    values = extract_egemaps(load(clip))
    assert values.shape == (88,) and np.isfinite(values).all()


def test_bad_signals_are_refused():
    with pytest.raises(ValueError, match="empty"):
        extract_egemaps(np.zeros(0, dtype=np.float32))
    with pytest.raises(ValueError, match="mono"):
        extract_egemaps(np.zeros((2, 100), dtype=np.float32))
