"""Cross-corpus results: train-corpus x test-corpus matrices and their Markdown table.

A cell is one number, an `ser.evaluation.report.evaluate_predictions` result, or a
`ser.evaluation.report.summarize_folds` summary (then it carries a spread):

    >>> cells = {("ravdess", "emodb"): 0.41, ("emodb", "ravdess"): 0.35, ("emodb", "emodb"): 0.8}
    >>> print(cross_corpus_table(cells), end="")
    | train \\ test (UA) | emodb | ravdess |
    |---|---:|---:|
    | emodb | 0.800* | 0.350 |
    | ravdess | 0.410 | – |
    <BLANKLINE>
    Rows: training corpus; columns: test corpus. *: same corpus, speaker-independent folds.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ser.evaluation.metrics import METRIC_NAMES, METRICS


def cross_corpus_matrix(
    cells: Mapping[tuple[str, str], object], metric: str = "ua"
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Train corpora, test corpora, and [n_train, n_test] arrays of a metric's value and spread.

    Parameters
    ----------
    cells : ``(train corpus, test corpus) -> value``; a value is a number, an
        `evaluate_predictions` result, or a `summarize_folds` summary (mean and std).
    metric : ``ua``, ``wa`` or ``macro_f1``.

    Returns
    -------
    (train names, test names, values, spreads); a pair missing from `cells` is NaN, and the
    spread is NaN unless the cell is a fold summary.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    trains = sorted({train for train, _ in cells})
    tests = sorted({test for _, test in cells})
    values = np.full((len(trains), len(tests)), np.nan)
    spreads = np.full_like(values, np.nan)
    for (train, test), cell in cells.items():
        i, j = trains.index(train), tests.index(test)
        values[i, j], spreads[i, j] = _cell_value(cell, metric)
    return trains, tests, values, spreads


def cross_corpus_table(cells: Mapping[tuple[str, str], object], metric: str = "ua", digits: int = 3) -> str:
    """A Markdown table of one metric: a row per training corpus, a column per test corpus.

    `cells` is as for `cross_corpus_matrix`. Cells on the diagonal (train and test on the same
    corpus, necessarily on different speakers) are marked ``*``; a missing pair is ``–``, and a
    fold summary shows ``mean ± std``. An optimistic cell is marked ``(optimistic)``.
    """
    trains, tests, values, spreads = cross_corpus_matrix(cells, metric)
    lines = [
        f"| train \\ test ({METRIC_NAMES[metric]}) | " + " | ".join(tests) + " |",
        "|---|" + "---:|" * len(tests),
    ]
    for i, train in enumerate(trains):
        shown = []
        for j, test in enumerate(tests):
            if math.isnan(values[i, j]):
                shown.append("–")
                continue
            text = f"{values[i, j]:.{digits}f}"
            if not math.isnan(spreads[i, j]):
                text += f" ± {spreads[i, j]:.{digits}f}"
            if train == test:
                text += "*"
            cell = cells[(train, test)]
            if isinstance(cell, Mapping) and cell.get("optimistic"):
                text += " (optimistic)"
            shown.append(text)
        lines.append(f"| {train} | " + " | ".join(shown) + " |")
    lines.append("")
    lines.append("Rows: training corpus; columns: test corpus. *: same corpus, speaker-independent folds.")
    return "\n".join(lines) + "\n"


def _cell_value(cell, metric: str) -> tuple[float, float]:
    if isinstance(cell, Mapping):
        if "mean" in cell:
            return float(cell["mean"][metric]), float(cell["std"][metric])
        return float(cell["metrics"][metric]), math.nan
    return float(cell), math.nan
