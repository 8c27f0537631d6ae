"""Figures of evaluation results: confusion matrix, per-group bars, cross-corpus heat map.

matplotlib is imported when a figure is drawn (`ser.figures`, off screen: no pyplot, no backend
switch), so importing this module costs nothing. Every figure is written aside and renamed into
place.

    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> plot_confusion([[0.8, 0.2], [0.3, 0.7]], ["angry", "sad"], out / "confusion.png", support={"angry": 5, "sad": 3})
    >>> plot_breakdown([{"group": "spk1", "n": 4, "ua": 0.5}, {"group": "spk2", "n": 6, "ua": 0.9}], out / "speakers.png")
    >>> plot_cross_corpus({("ravdess", "emodb"): 0.41, ("emodb", "ravdess"): 0.35}, out / "cross.png")
    >>> sorted(p.name for p in out.iterdir())
    ['confusion.png', 'cross.png', 'speakers.png']
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from ser.evaluation.cross_corpus import cross_corpus_matrix
from ser.evaluation.metrics import METRIC_NAMES
from ser.figures import figure, save_png


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
    matrix = np.asarray(confusion, dtype=np.float64)
    k = len(labels)
    if matrix.shape != (k, k):
        raise ValueError(f"confusion must be [{k}, {k}] for {k} labels, got {matrix.shape}")
    size = 1.2 + 0.65 * k
    fig = figure(figsize=(size + 1.0, size))
    axis = fig.subplots()
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
    fig.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    save_png(fig, path)


def plot_breakdown(
    table: Sequence[Mapping], path: str | os.PathLike, metric: str = "ua", title: str = "", overall: float | None = None
) -> None:
    """Bars of one metric per group (a `ser.evaluation.metrics.breakdown` table), labelled with n.

    Parameters
    ----------
    table : rows ``{"group", "n", "ua", "wa", "macro_f1"}``, e.g. ``result["breakdowns"]["speaker"]``.
    metric : which metric to draw.
    overall : drawn as a dashed line when given (the whole test set's value).
    """
    if not table:
        raise ValueError("nothing to plot: the breakdown table is empty")
    groups = [str(row["group"]) for row in table]
    values = [float(row[metric]) for row in table]
    fig = figure(figsize=(max(4.0, 0.45 * len(groups) + 1.5), 3.5))
    axis = fig.subplots()
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
    save_png(fig, path)


def plot_cross_corpus(
    cells: Mapping[tuple[str, str], object], path: str | os.PathLike, metric: str = "ua", title: str = ""
) -> None:
    """A train-corpus x test-corpus heat map of one metric (cells as for `cross_corpus_table`)."""
    trains, tests, values, spreads = cross_corpus_matrix(cells, metric)
    fig = figure(figsize=(1.5 + 1.1 * len(tests), 1.2 + 0.8 * len(trains)))
    axis = fig.subplots()
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
    fig.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    save_png(fig, path)
