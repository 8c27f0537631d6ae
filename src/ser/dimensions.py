"""Arousal and valence derived from category probabilities, through the circumplex of affect.

    >>> import numpy as np
    >>> from ser.dimensions import derive_dimensions
    >>> arousal, valence = derive_dimensions(np.array([[0.9, 0.1], [0.1, 0.9]]), ["angry", "sad"])
    >>> bool(arousal[0] > arousal[1]), bool(valence[0] < 0)
    (True, True)

**Derived, not trained.** No model here has learnt from dimensional ratings. Each category sits
at a point (valence, arousal) of Russell's (1980) circumplex; a clip's derived value is the
probability-weighted mean of its categories' points::

    arousal = sum_c p_c * A_c        valence = sum_c p_c * V_c        (p normalised to sum 1)

so a clip heard as 70 % angry and 30 % neutral sits 70 % of the way from neutral to angry. The
result inherits the classifier's view: a calm-sounding angry clip and a shouted one get the same
arousal if the classifier gives them the same probabilities, and a dimension the categories do
not separate (dominance) is not offered at all.

Coordinates (`COORDINATES`, in [-1, 1]):

- valence: Russell (1980), Fig. 4 (the scaling of 28 affect words), read off as digitised
  coordinates; ``neutral`` is the origin by definition; ``disgust`` has no place in Russell's
  figure and is our placement among the unpleasant, moderately aroused words (-0.60, 0.35).
- arousal: Russell (1980) too. Calibrations were fitted and cross-validated over speakers on
  the corpora at hand (RAVDESS' strong vs normal intensity, categories by arousal; out-of-fold
  probabilities of the shipped recipe): a per-label arousal fit and a softening of the weights
  both order RAVDESS' intensity pairs better, and both order categories worse and flatten or
  reorder the values (``benchmarks/dimensions.md``), so the literature's table ships, with the
  plain mean (`SOFTENING` 1).

A label that is not in the table (a model trained on other classes) sits at the origin and pulls
the result towards neutral; a ``gender_emotion`` label (``female_angry``) takes its emotion's place.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

# Russell (1980), Fig. 4, as (valence, arousal): happy, calm, sad, angry, afraid (fearful),
# astonished (surprised), bored (boredom); neutral is the origin; disgust is our placement (not
# in Russell's figure). The starting point of the calibrations in benchmarks/dimensions.py.
RUSSELL_1980: dict[str, tuple[float, float]] = {
    "neutral": (0.00, 0.00),
    "calm": (0.56, -0.31),
    "happy": (0.83, 0.53),
    "sad": (-0.65, -0.27),
    "angry": (-0.52, 0.58),
    "fearful": (-0.34, 0.64),
    "disgust": (-0.60, 0.35),
    "surprised": (0.16, 0.89),
    "boredom": (-0.66, -0.63),
}

# What `derive_dimensions` uses by default (benchmarks/dimensions.md says why these).
COORDINATES: dict[str, tuple[float, float]] = dict(RUSSELL_1980)
SOFTENING = 1.0  # weights p ** (1 / SOFTENING): 1 is the plain probability-weighted mean


def derive_dimensions(
    probs: np.ndarray,
    labels: Sequence[str],
    coordinates: Mapping[str, tuple[float, float]] | None = None,
    softening: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Arousal and valence in [-1, 1] of each row of class probabilities.

    Parameters
    ----------
    probs : [n, C] (or [C] for one clip) non-negative scores per class, in the order of
        `labels`; each row is divided by its sum (a row of zeros gives 0, 0).
    labels : the C class names (``angry``, ``female_angry``, ...).
    coordinates : label -> (valence, arousal); default `COORDINATES`.
    softening : weights are ``p ** (1 / softening)``, renormalised: above 1 the runner-up
        classes count for more, which lets arousal vary within a confidently recognised
        category; default `SOFTENING` (calibrated with the coordinates), 1 for the plain mean.

    Returns
    -------
    (arousal, valence) : two float32 arrays of shape [n] (shape [1] for a 1-D `probs`), each
        the probability-weighted mean of the labels' coordinates, so within [-1, 1].
    """
    p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    if p.ndim != 2 or p.shape[1] != len(labels):
        raise ValueError(f"probs must be [n, {len(labels)}] for {len(labels)} labels, got shape {np.shape(probs)}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probs must be finite and non-negative")
    table = label_coordinates(labels, coordinates)  # [C, 2]: valence, arousal
    p = p ** (1.0 / (SOFTENING if softening is None else softening))
    totals = p.sum(axis=1, keepdims=True)
    weights = np.divide(p, totals, out=np.zeros_like(p), where=totals > 0)
    valence, arousal = (weights @ table).T
    return np.clip(arousal, -1, 1).astype(np.float32), np.clip(valence, -1, 1).astype(np.float32)


def label_coordinates(labels: Sequence[str], coordinates: Mapping[str, tuple[float, float]] | None = None) -> np.ndarray:
    """[C, 2] (valence, arousal) of each label; unknown labels at the origin, ``female_angry`` as ``angry``."""
    coordinates = COORDINATES if coordinates is None else coordinates
    rows = []
    for label in labels:
        key = label.lower()
        if key not in coordinates and key.partition("_")[0] in ("female", "male"):
            key = key.partition("_")[2]
        rows.append(coordinates.get(key, (0.0, 0.0)))
    return np.asarray(rows, dtype=np.float64).reshape(len(labels), 2)
