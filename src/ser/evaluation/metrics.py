"""Scores of a set of predictions: UA, WA, macro-F1, the classification report, the confusion matrix.

    >>> from ser.evaluation.metrics import classification_metrics
    >>> m = classification_metrics(["sad", "sad", "angry"], ["sad", "angry", "angry"], labels=["angry", "sad"])
    >>> round(m["ua"], 3), round(m["wa"], 3)
    (0.75, 0.667)

Definitions (the ones the speech-emotion literature uses):

- **UA**, unweighted accuracy: the mean over classes of each class' recall (scikit-learn's
  ``balanced_accuracy_score``). Classes absent from the true labels do not count. It is the
  headline number: it does not reward predicting the majority class.
- **WA**, weighted accuracy: the share of correct predictions (plain accuracy), so classes weigh
  by their size.
- **macro-F1**: the mean of the per-class F1 over the classes that occur among the true or the
  predicted labels (a class that occurs in neither has no F1 and would only drag the mean to 0).

- **CCC**, the concordance correlation coefficient (`concordance_correlation`): agreement of
  predicted and true dimensional ratings (arousal, valence), the headline of regression tasks.

Everything else here works on label strings and takes the label order from `labels`, so the
confusion matrices of different folds line up and can be pooled.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np

METRICS: tuple[str, ...] = ("ua", "wa", "macro_f1")
METRIC_NAMES = {"ua": "UA", "wa": "WA", "macro_f1": "macro-F1"}  # as printed


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict:
    """UA, WA, macro-F1, scikit-learn's classification report and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : the true and the predicted label of each item, length n >= 1.
    labels : every label in display order; each value of `y_true` and `y_pred` must be one.

    Returns
    -------
    dict with
        ``ua``, ``wa``, ``macro_f1`` : floats in [0, 1];
        ``n`` : the number of items;
        ``labels`` : `labels` as a list;
        ``report`` : ``sklearn.metrics.classification_report(..., output_dict=True)`` over the
            labels that occur (per-class precision, recall, f1-score, support; accuracy; macro
            and weighted averages);
        ``confusion`` : [len(labels)][len(labels)] row-normalised confusion (row = true label,
            each row sums to 1, or is all zeros for a label with no items);
        ``confusion_counts`` : the same matrix as counts (ints), for pooling over folds;
        ``support`` : label -> number of true items.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, classification_report, confusion_matrix, f1_score

    y_true, y_pred, labels = _checked(y_true, y_pred, labels)
    present = [label for label in labels if label in set(y_true) | set(y_pred)]
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    with _quiet():
        return {
            "ua": float(balanced_accuracy_score(y_true, y_pred)),
            "wa": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
            "n": len(y_true),
            "labels": labels,
            "report": classification_report(y_true, y_pred, labels=present, output_dict=True, zero_division=0),
            "confusion": normalise_rows(counts).tolist(),
            "confusion_counts": counts.astype(int).tolist(),
            "support": {label: int(row.sum()) for label, row in zip(labels, counts)},
        }


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """Just ``ua``, ``wa`` and ``macro_f1`` (as in `classification_metrics`) and ``n``, for small groups."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    if len(y_true) == 0:
        raise ValueError("no predictions to score")
    with _quiet():
        return {
            "ua": float(balanced_accuracy_score(y_true, y_pred)),
            "wa": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "n": len(y_true),
        }


def breakdown(groups: Sequence[str], y_true: Sequence[str], y_pred: Sequence[str], unknown: str = "(unknown)") -> list[dict]:
    """UA, WA, macro-F1 and size of each group (speaker, gender, intensity, corpus), sorted by group.

    Parameters
    ----------
    groups : the group of each item (an empty string is reported as `unknown`), length n.
    y_true, y_pred : the true and predicted labels, length n.

    Returns
    -------
    list of ``{"group", "n", "ua", "wa", "macro_f1"}``, one per distinct group.
    """
    if not len(groups) == len(y_true) == len(y_pred):
        raise ValueError(f"groups, y_true and y_pred differ in length ({len(groups)}, {len(y_true)}, {len(y_pred)})")
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group or unknown, []).append(i)
    table = []
    for group in sorted(members):
        index = members[group]
        table.append({"group": group, **scores([y_true[i] for i in index], [y_pred[i] for i in index])})
    return table


def normalise_rows(counts: np.ndarray) -> np.ndarray:
    """A confusion matrix [k, k] of counts divided by its row sums (rows of zeros stay zeros), float64."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def expected_calibration_error(proba: np.ndarray, y_true_index: np.ndarray, n_bins: int = 10) -> float:
    """How far the confidence is from the accuracy, averaged over equal-width confidence bins.

    Parameters
    ----------
    proba : [n, n_labels] class probabilities (rows sum to 1).
    y_true_index : [n] index of the true label of each row.
    n_bins : number of bins over [0, 1].

    Returns
    -------
    ECE in [0, 1]: sum over bins of (bin size / n) * |accuracy in bin - mean confidence in bin|.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y_true_index = np.asarray(y_true_index)
    if proba.ndim != 2 or proba.shape[0] != y_true_index.shape[0] or proba.shape[0] == 0:
        raise ValueError(f"proba must be [n, n_labels] with n = len(y_true_index) > 0, got {proba.shape}")
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true_index
    # Bin k holds confidences in (k/n_bins, (k+1)/n_bins]; a confidence of exactly 0 joins bin 0.
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    error = 0.0
    for k in range(n_bins):
        in_bin = bins == k
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def concordance_correlation(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient (CCC), the dimensional-emotion metric.

    ``2 cov(t, p) / (var(t) + var(p) + (mean(t) - mean(p))^2)``, with population (1/n)
    moments, as in Lin (1989) and the AVEC/MSP-Podcast challenges. It is Pearson's r shrunk by
    any difference in mean or scale: 1 only when predictions equal the truth, 0 for a constant
    prediction, -1 for a mirror image about a zero mean. `y_true`, `y_pred`: [n] numbers, n >= 2.

        >>> round(concordance_correlation([0.1, 0.4, -0.2, 0.8], [0.0, 0.5, -0.1, 0.6]), 3)
        0.924
    """
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape or t.size < 2:
        raise ValueError(f"CCC needs two equally long series of 2 or more values, got {t.size} and {p.size}")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("CCC of values that are not finite numbers")
    covariance = np.mean((t - t.mean()) * (p - p.mean()))
    denominator = t.var() + p.var() + (t.mean() - p.mean()) ** 2
    return float(2 * covariance / denominator) if denominator > 0 else 0.0


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence scikit-learn's notes that a class occurs only among the predictions, or that a
    group holds one class: both are normal for a speaker's or a fold's subset, and the
    definitions above say how such classes count."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")
        yield


def _checked(y_true, y_pred, labels) -> tuple[list[str], list[str], list[str]]:
    y_true, y_pred, labels = [str(y) for y in y_true], [str(y) for y in y_pred], [str(x) for x in labels]
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if not y_true:
        raise ValueError("no predictions to score")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels hold duplicates: {labels}")
    known = set(labels)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        outside = sorted(set(values) - known)
        if outside:
            raise ValueError(f"{name} holds label(s) {', '.join(map(repr, outside))} not in labels {labels}")
    return y_true, y_pred, labels
