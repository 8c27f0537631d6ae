"""Real voices for the speaker tests: the RAVDESS example clips committed under examples/."""

from __future__ import annotations

from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SR = 16000
# Stem -> RAVDESS actor (odd = male) of the committed example clips.
ACTORS = {
    "03-01-01-01-01-01-10": 10, "03-01-03-02-01-01-02": 2, "03-01-04-02-02-01-03": 3,
    "03-01-05-02-01-01-04": 4, "03-01-06-02-02-01-05": 5, "03-01-08-02-01-01-07": 7,
}


def example(stem: str) -> np.ndarray:
    """An example clip as float32 at 16 kHz, leading and trailing silence cut (energy > -45 dB of peak)."""
    from ser.audio import load

    signal = load(EXAMPLES / f"{stem}.flac")
    frames = np.lib.stride_tricks.sliding_window_view(signal, 400)[::160]
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.flatnonzero(level > level.max() - 45)
    return signal[loud[0] * 160 : loud[-1] * 160 + 400].astype(np.float32)


def voice(actor: int) -> np.ndarray:
    """The example clip of RAVDESS actor `actor`."""
    return example(next(stem for stem, a in ACTORS.items() if a == actor))
