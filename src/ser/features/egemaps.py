"""The 88 eGeMAPS v02 functionals (Eyben et al. 2016) of a clip, through audEERING's opensmile.

eGeMAPS is the affective-computing community's standard minimal acoustic parameter set: pitch,
jitter, shimmer, loudness, HNR, formants, spectral slopes, MFCC 1-4 and rhythm, each summarised
over the clip (means, coefficients of variation, percentiles, rates). It is a strong baseline for
the classic models and needs no training.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

EGEMAPS_DIM = 88

# openSMILE fills every functional with NaN below its 60 ms analysis window; shorter clips are
# zero-padded up to this duration so that the answer is always finite.
MIN_DURATION_S = 0.1


@lru_cache(maxsize=1)
def _smile():
    # Building the Smile object parses the config and loads the native library: once per process.
    import opensmile

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def egemaps_names() -> list[str]:
    """The 88 feature names in column order, e.g. ``F0semitoneFrom27.5Hz_sma3nz_amean``."""
    return list(_smile().feature_names)


def extract_egemaps(signal: np.ndarray, sr: int = 16000) -> np.ndarray:
    """eGeMAPS v02 functionals of one clip.

    Parameters
    ----------
    signal : shape (n_samples,), float, mono, at least one sample.
    sr : sample rate in Hz.

    Clips shorter than `MIN_DURATION_S` are zero-padded to it (openSMILE returns NaN otherwise).

    Returns
    -------
    np.ndarray, shape (88,), float32, in the order of `egemaps_names`. Units vary by feature:
    pitch in semitones from 27.5 Hz, loudness in sones, HNR and slopes in dB, jitter/shimmer
    relative, rates per second, durations in seconds (see ``docs/features.md``).
    """
    y = np.asarray(signal)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (n_samples,), got shape {y.shape}")
    if y.shape[0] == 0:
        raise ValueError("cannot compute features of an empty signal")
    y = np.ascontiguousarray(y, dtype=np.float32)
    shortfall = int(np.ceil(MIN_DURATION_S * sr)) - y.shape[0]
    if shortfall > 0:
        y = np.pad(y, (0, shortfall))
    values = _smile().process_signal(y, sr).to_numpy()
    return values.reshape(-1).astype(np.float32)
