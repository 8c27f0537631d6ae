"""Evaluation: score a model on labelled rows, honestly, and report it.

`evaluate` predicts manifest rows with a model and scores them, with the checks that keep the
numbers honest (speaker folds, training speakers among the test speakers); `metrics` scores
label sequences (UA, WA, macro-F1; scikit-learn underneath); `report` turns predictions on
manifest rows into a result with per-speaker, per-gender, per-intensity and per-corpus tables
and writes it to disk; `cross_corpus` tabulates train-corpus x test-corpus results; `plots`
draws confusion matrices, per-group bars and cross-corpus heat maps (matplotlib, imported when
drawing). See docs/evaluation.md. The names below are imported on first use, so
``import ser.evaluation`` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "evaluate_model": "evaluate",
    "select_rows": "evaluate",
    "training_speakers": "evaluate",
    "classification_metrics": "metrics",
    "breakdown": "metrics",
    "evaluate_predictions": "report",
    "write_report": "report",
    "summarize_folds": "report",
    "write_summary": "report",
    "cross_corpus_table": "cross_corpus",
    "plot_confusion": "plots",
    "plot_breakdown": "plots",
    "plot_cross_corpus": "plots",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
