"""Models: scikit-learn baselines, PyTorch networks over feature sequences, pretrained encoders.

One registry builds every classic model by name::

    >>> from ser.models import build_model, input_kind
    >>> model = build_model("clstm", n_features=40, n_classes=7, hidden=64)
    >>> input_kind("clstm"), input_kind("svm")
    ('frames', 'pooled')

Frame models (PyTorch ``nn.Module``) take ``x`` [B, T, F] float32 and ``lengths`` [B] int64 and
return logits [B, C], ignoring frames past each clip's length. Pooled models (scikit-learn
estimators with ``fit`` / ``predict_proba``) take one vector per clip, [N, F]. Modules are
imported on first use, so asking for ``svm`` never imports torch.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ser.errors import SerError

# name -> (module under ser.models, class, input kind)
MODELS: dict[str, tuple[str, str, str]] = {
    "cnn": ("cnn", "CNN1D", "frames"),
    "cnn2d": ("cnn", "CNN2D", "frames"),
    "lstm": ("recurrent", "LSTMClassifier", "frames"),
    "bilstm": ("recurrent", "BiLSTMClassifier", "frames"),
    "gru": ("recurrent", "GRUClassifier", "frames"),
    "clstm": ("recurrent", "CLSTM", "frames"),
    "transformer": ("transformer", "TransformerClassifier", "frames"),
    "svm": ("classic", "SVMClassifier", "pooled"),
    "mlp": ("classic", "MLPClassifier", "pooled"),
    "logreg": ("classic", "LogisticClassifier", "pooled"),
}


def names() -> list[str]:
    """The model names `build_model` accepts."""
    return list(MODELS)


def input_kind(name: str) -> str:
    """``"frames"`` (a [T, F] sequence per clip) or ``"pooled"`` (one [F] vector per clip)."""
    return MODELS[_check(name)][2]


def model_class(name: str) -> type:
    """The class registered as `name` (imports its module)."""
    module, cls, _ = MODELS[_check(name)]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def hyperparameters(name: str) -> dict[str, Any]:
    """The keyword hyperparameters of model `name` and their defaults."""
    signature = inspect.signature(model_class(name).__init__)
    skip = {"self", "n_features", "n_classes"}
    return {k: p.default for k, p in signature.parameters.items() if k not in skip and p.kind == p.KEYWORD_ONLY}


def build_model(name: str, n_features: int, n_classes: int, **hparams: Any):
    """A new, untrained model `name` for `n_features` inputs and `n_classes` outputs.

    Raises `SerError` for an unknown name or a hyperparameter the model does not take.
    """
    known = hyperparameters(name)
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        raise SerError(f"model {name!r} has no hyperparameter(s) {unknown}; it takes {sorted(known)}")
    if n_classes < 2:
        raise SerError(f"a classifier needs at least 2 classes, got {n_classes}")
    return model_class(name)(n_features=int(n_features), n_classes=int(n_classes), **hparams)


def _check(name: str) -> str:
    if name not in MODELS:
        raise SerError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return name
