"""Figures of evaluation results: confusion matrix, per-group bars, cross-corpus heat map.

matplotlib is imported inside each function, with the Agg backend (files only, no display), so
importing this module costs nothing. Every figure is written aside and renamed into place.

    >>> from ser.evaluation.plots import plot_confusion, plot_breakdown, plot_cross_corpus
    >>> plot_confusion(result["metrics"]["confusion"], result["labels"], "confusion.png")
    >>> plot_breakdown(result["breakdowns"]["speaker"], "speakers.png", metric="ua")
    >>> plot_cross_corpus({("ravdess", "emodb"): 0.41, ("emodb", "ravdess"): 0.35}, "cross.png")
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: str | os.PathLike) -> None:
    from ser.evaluation.report import atomic_file

    plt = _pyplot()
    try:
        with atomic_file(path) as temp:
            figure.savefig(temp, format="png", dpi=120, bbox_inches="tight")
    finally:
        plt.close(figure)


def plot_confusion(
    confusion: Sequence[Sequence[float]],
    labels: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
    support: Mapping[str, int] | None = None,
) -> None:
    """A row-normalised confusion matrix [k, k] (rows: true labels) as an annotated heat map PNG.

    `support` (label -> number of true items) is shown beside each row's label when given.
    """
    plt = _pyplot()
    matrix = np.asarray(confusion, dtype=np.float64)
    k = len(labels)
    if matrix.shape != (k, k):
        raise ValueError(f"confusion must be [{k}, {k}] for {k} labels, got {matrix.shape}")
    size = 1.2 + 0.65 * k
    figure, axis = plt.subplots(figsize=(size + 1.0, size))
    image = axis.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            axis.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8,
                      color="white" if matrix[i, j] > 0.5 else "black")
    axis.set_xticks(range(k), labels, rotation=45, ha="right")
    axis.set_yticks(range(k), [f"{label} ({support.get(label, 0)})" if support else label for label in labels])
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if title:
        axis.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    _save(figure, path)


def plot_breakdown(table: Sequence[Mapping], path: str | os.PathLike, metric: str = "ua", title: str = "", overall: float | None = None) -> None:
    """Bars of one metric per group (a `ser.evaluation.metrics.breakdown` table), labelled with n.

    Parameters
    ----------
    table : rows ``{"group", "n", "ua", "wa", "macro_f1"}``, e.g. ``result["breakdowns"]["speaker"]``.
    metric : which metric to draw.
    overall : drawn as a dashed line when given (the whole test set's value).
    """
    from ser.evaluation.metrics import METRIC_NAMES

    plt = _pyplot()
    if not table:
        raise ValueError("nothing to plot: the breakdown table is empty")
    groups = [str(row["group"]) for row in table]
    values = [float(row[metric]) for row in table]
    figure, axis = plt.subplots(figsize=(max(4.0, 0.45 * len(groups) + 1.5), 3.5))
    bars = axis.bar(range(len(groups)), values, color="tab:blue")
    for bar, row in zip(bars, table):
        axis.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01, f"n={row['n']}",
                  ha="center", va="bottom", fontsize=6, rotation=90)
    if overall is not None:
        axis.axhline(overall, color="tab:red", linestyle="--", linewidth=1, label=f"all: {overall:.3f}")
        axis.legend(loc="lower right", fontsize="small")
    axis.set_xticks(range(len(groups)), groups, rotation=60, ha="right", fontsize=7)
    axis.set_ylim(0, 1.12)
    axis.set_ylabel(METRIC_NAMES.get(metric, metric))
    if title:
        axis.set_title(title, fontsize=10)
    _save(figure, path)


def plot_cross_corpus(cells: Mapping[tuple[str, str], object], path: str | os.PathLike, metric: str = "ua", title: str = "") -> None:
    """A train-corpus x test-corpus heat map of one metric (cells as for `cross_corpus_table`)."""
    from ser.evaluation.metrics import METRIC_NAMES
    from ser.evaluation.report import cross_corpus_matrix

    plt = _pyplot()
    trains, tests, values, spreads = cross_corpus_matrix(cells, metric)
    figure, axis = plt.subplots(figsize=(1.5 + 1.1 * len(tests), 1.2 + 0.8 * len(trains)))
    image = axis.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0.0, vmax=1.0)
    for i in range(len(trains)):
        for j in range(len(tests)):
            if np.isnan(values[i, j]):
                axis.text(j, i, "–", ha="center", va="center", color="gray")
                continue
            text = f"{values[i, j]:.2f}" + ("" if np.isnan(spreads[i, j]) else f"\n±{spreads[i, j]:.2f}")
            axis.text(j, i, text, ha="center", va="center", fontsize=8,
                      color="black" if values[i, j] > 0.6 else "white",
                      fontweight="bold" if trains[i] == tests[j] else "normal")
    axis.set_xticks(range(len(tests)), tests, rotation=30, ha="right")
    axis.set_yticks(range(len(trains)), trains)
    axis.set_xlabel("test corpus")
    axis.set_ylabel("training corpus")
    axis.set_title(title or f"cross-corpus {METRIC_NAMES.get(metric, metric)}", fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    _save(figure, path)
