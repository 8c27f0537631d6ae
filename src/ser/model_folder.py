"""The model folder: ``ser_model.json`` plus the files it names. The one owner of that format.

Everything that writes a model (``ser train``, ``ser train-default``, the ONNX export and
int8 quantisation) and everything that reads one (the Recognizer, ``ser evaluate``, the Ray
engine, the benchmarks) goes through this module, so the format is spelled in one place::

    ser_model.json   {"format": "ser-model/1", "backend": "onnx" | "torch" | "sklearn",
                      "labels": [...], "sample_rate": 16000, ... backend-specific keys}

Backends are found by name in `BACKENDS` (``"module:callable"``, imported only when a folder of
that kind is loaded), so the inference layer never imports the training stack: a torch or
scikit-learn checkpoint needs the ``ser[train]`` extra, an ONNX model needs only onnxruntime.
This module imports nothing of ``ser`` but its errors, and no third-party package.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from ser.errors import ModelError

MODEL_FORMAT = "ser-model/1"
CONFIG_NAME = "ser_model.json"
SAMPLE_RATE = 16000

# backend name -> "module:callable(directory, config, **options)" returning an object with
# ``labels`` and ``predict_proba(signals) -> [n, n_labels]``.
BACKENDS: dict[str, str] = {
    "onnx": "ser.inference.backends:OnnxBackend",
    "torch": "ser.training.checkpoint:load_predictor",
    "sklearn": "ser.training.checkpoint:load_predictor",
}
# Backends whose loader needs an optional extra, and the extra that brings it.
_EXTRAS = {"torch": "train", "sklearn": "train"}


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``ser_model.json`` of the model folder `path`, checked for the common keys.

    Raises `ModelError` naming the folder or file and what is wrong with it.
    """
    directory = Path(path)
    if not directory.exists():
        raise ModelError(f"{directory}: no such model folder")
    if not directory.is_dir():
        raise ModelError(f"{directory}: a model is a folder holding {CONFIG_NAME}, not a file")
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise ModelError(f"{directory}: not a ser model folder (no {CONFIG_NAME})")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{config_path}: invalid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ModelError(f"{config_path}: expected a JSON object")
    if config.get("format") != MODEL_FORMAT:
        raise ModelError(f"{config_path}: unknown model format {config.get('format')!r} (expected {MODEL_FORMAT!r})")
    labels = config.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
        raise ModelError(f"{config_path}: 'labels' must be a list of at least two non-empty names")
    if len(set(labels)) != len(labels):
        raise ModelError(f"{config_path}: 'labels' holds duplicates")
    for key, kind in (("sample_rate", int), ("max_frames", int), ("min_samples", int), ("temperature", (int, float))):
        if key in config and (not isinstance(config[key], kind) or isinstance(config[key], bool)):
            raise ModelError(f"{config_path}: {key!r} must be a number, got {config[key]!r}")
    if config.get("sample_rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise ModelError(f"{config_path}: sample_rate must be {SAMPLE_RATE}, got {config.get('sample_rate')}")
    if config.get("max_frames", 3000) < 1 or config.get("temperature", 1.0) <= 0:
        raise ModelError(f"{config_path}: max_frames and temperature must be positive")
    return config


def write_config(directory: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write ``ser_model.json`` into `directory` (format and sample rate filled in), atomically."""
    from ser.files import atomic_write

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"format": MODEL_FORMAT, "sample_rate": SAMPLE_RATE, **config}
    with atomic_write(directory / CONFIG_NAME, "w") as handle:
        handle.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return directory / CONFIG_NAME


def load_model(path: str | os.PathLike, **options: Any):
    """The predictor of the model folder `path`, built by the backend its ``ser_model.json`` names.

    `options` go to the backend (for ONNX: ``threads``, ``batch_size``). Raises `ModelError`
    naming the folder and what is wrong with it, including a missing optional extra.
    """
    directory = Path(path)
    config = read_config(directory)
    name = config.get("backend")
    if name not in BACKENDS:
        raise ModelError(f"{directory / CONFIG_NAME}: unknown backend {name!r} (expected one of {', '.join(BACKENDS)})")
    module_name, attribute = BACKENDS[name].split(":")
    try:
        loader = getattr(importlib.import_module(module_name), attribute)
    except ImportError as exc:
        extra = _EXTRAS.get(name)
        hint = f" (pip install 'ser[{extra}]')" if extra else ""
        raise ModelError(f"{directory}: a {name} model needs more packages{hint}; import failed: {exc}") from None
    return loader(directory, config, **options)
