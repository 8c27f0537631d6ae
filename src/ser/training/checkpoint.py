"""Trained model folders: what a fold of ``ser train`` writes, and `load_predictor` to use it.

A fold folder is a model folder in the ``ser-model/1`` format that ``ser predict --model`` and
``Recognizer.from_pretrained`` read (via `ser.model_folder.load_model`)::

    ser_model.json     format, backend ("torch" | "sklearn"), labels, sample_rate 16000, model
                       (name, hparams, n_features), features (kind, spectral FeatureConfig,
                       max_frames), preprocess, target, protocol, fold, metrics
    model.safetensors  torch: the weights of the best validation epoch
    normalizer.npz     torch: per-dimension mean and std of the training frames
    model.joblib       sklearn: the fitted estimator (scaler + classifier)

The run folder above the folds holds a ``ser_model.json`` with ``"ensemble": ["fold0", ...]``:
loading it averages the probabilities of every fold's model.

Prediction recomputes the features from the saved config (same preprocessing, same STFT), so
the folder is self-contained apart from this package. Clips longer than ``max_frames`` frames
are scored in near-equal windows of at most ``max_frames`` whose probabilities are averaged,
weighted by their length.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ser.errors import ModelError
from ser.model_folder import CONFIG_NAME, read_config

NORMALIZER = "normalizer.npz"
SKLEARN_FILE = "model.joblib"
TORCH_FILE = "model.safetensors"


def save_sklearn(directory: str | os.PathLike, model) -> Path:
    import joblib

    directory = Path(directory)
    tmp = directory / f".{SKLEARN_FILE}.tmp"
    joblib.dump(model, tmp)
    os.replace(tmp, directory / SKLEARN_FILE)
    return directory / SKLEARN_FILE


def load_predictor(directory: str | os.PathLike, config: dict[str, Any] | None = None, **options: Any):
    """The predictor of a model folder written by ``ser train`` (a fold, or a run: the fold ensemble).

    Returns an object with ``labels`` (list of str) and ``predict_proba(signals) -> [n, n_labels]``
    for 16 kHz mono float32 signals. Raises `ModelError` naming the folder and what is missing.
    """
    directory = Path(directory)
    config = read_config(directory) if config is None else config
    if "ensemble" in config:
        members = [load_predictor(directory / str(name)) for name in config["ensemble"]]
        if not members:
            raise ModelError(f"{directory / CONFIG_NAME}: 'ensemble' names no fold folders")
        for name, member in zip(config["ensemble"], members):
            if member.labels != list(config["labels"]):
                raise ModelError(f"{directory / name}: labels {member.labels} differ from the run's {config['labels']}")
        return EnsemblePredictor(members, list(config["labels"]))
    for key in ("model", "features"):
        if not isinstance(config.get(key), dict):
            raise ModelError(f"{directory / CONFIG_NAME}: a {config.get('backend')} checkpoint needs a {key!r} section")
    if config.get("backend") == "sklearn":
        return ClassicPredictor(directory, config)
    return TorchPredictor(directory, config)


class _FeaturePredictor:
    """The shared front end: preprocessing and features as saved in the folder's config."""

    def __init__(self, directory: Path, config: dict[str, Any]):
        from ser.features.spectral import FeatureConfig
        from ser.preprocess import PreprocessConfig

        self.directory = directory
        self.config = config
        self.labels: list[str] = list(config["labels"])
        self.name = str(config.get("name", directory.name))
        features = config["features"]
        self.kind = features.get("kind", "spectral")
        try:
            self.feature_config = FeatureConfig.from_dict(features.get("spectral", {}))
            self.preprocess = PreprocessConfig.from_dict(config.get("preprocess"))
        except Exception as exc:
            raise ModelError(f"{directory / CONFIG_NAME}: bad feature settings ({exc})") from None
        self.max_frames = int(features.get("max_frames", 300))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.directory)!r}, labels={self.labels})"

    def _signal(self, signal: np.ndarray) -> np.ndarray:
        y = np.asarray(signal, dtype=np.float32)
        if y.ndim != 1:
            raise ValueError(f"expected a 1-D signal, got shape {y.shape}")
        if y.shape[0] < self.feature_config.hop_length:  # at least one hop, as in training data
            y = np.pad(y, (0, self.feature_config.hop_length - y.shape[0]))
        return y if self.preprocess.is_identity else self.preprocess.apply(y)


class ClassicPredictor(_FeaturePredictor):
    """A scikit-learn model on one pooled vector per clip (spectral statistics or eGeMAPS)."""

    def __init__(self, directory: Path, config: dict[str, Any]):
        super().__init__(directory, config)
        import joblib

        path = directory / SKLEARN_FILE
        if not path.is_file():
            raise ModelError(f"{directory}: {SKLEARN_FILE} is missing")
        self.model = joblib.load(path)
        if self.model.n_classes != len(self.labels):
            raise ModelError(f"{directory}: the model has {self.model.n_classes} classes, {CONFIG_NAME} names {len(self.labels)}")

    def vector(self, signal: np.ndarray) -> np.ndarray:
        y = self._signal(signal)
        if self.kind == "egemaps":
            from ser.features.egemaps import extract_egemaps

            return extract_egemaps(y)
        from ser.features.spectral import extract_pooled

        return extract_pooled(y, self.feature_config)

    def predict_proba(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        if not len(signals):
            return np.zeros((0, len(self.labels)), np.float32)
        x = np.stack([self.vector(s) for s in signals])
        return self.model.predict_proba(x).astype(np.float32)


class TorchPredictor(_FeaturePredictor):
    """A PyTorch frame model: standardised frames, windows of at most ``max_frames``."""

    def __init__(self, directory: Path, config: dict[str, Any], batch_size: int = 16):
        super().__init__(directory, config)
        from safetensors.torch import load_file

        from ser.models import build_model
        from ser.training.data import Normalizer

        model = config["model"]
        for name in (TORCH_FILE, NORMALIZER):
            if not (directory / name).is_file():
                raise ModelError(f"{directory}: {name} is missing")
        try:
            self.model = build_model(model["name"], int(model["n_features"]), len(self.labels), **model.get("hparams", {}))
            self.model.load_state_dict(load_file(str(directory / TORCH_FILE)))
        except (KeyError, RuntimeError, ValueError) as exc:
            raise ModelError(f"{directory}: cannot rebuild the {model.get('name')!r} model from its weights ({exc})") from None
        self.model.eval()
        self.normalizer = Normalizer.load(directory / NORMALIZER)
        self.batch_size = batch_size

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """Standardised frames [T, F] of one signal."""
        from ser.features.spectral import extract_frames

        return self.normalizer(extract_frames(self._signal(signal), self.feature_config))

    def predict_proba(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        from ser.inference.backends import softmax, split_evenly
        from ser.training.trainer import pad_batch

        pieces: list[tuple[int, np.ndarray]] = []
        for index, signal in enumerate(signals):
            frames = self.frames(signal)
            for start, end in split_evenly(frames.shape[0], self.max_frames):
                pieces.append((index, frames[start:end]))
        probs = np.zeros((len(pieces), len(self.labels)))
        with torch.no_grad():
            for start in range(0, len(pieces), self.batch_size):
                chunk = pieces[start : start + self.batch_size]
                x, lengths = pad_batch([p[1] for p in chunk])
                probs[start : start + len(chunk)] = softmax(self.model(x, lengths).numpy())
        totals = np.zeros((len(signals), len(self.labels)))
        weights = np.zeros(len(signals))
        for (index, frames), p in zip(pieces, probs):
            totals[index] += frames.shape[0] * p
            weights[index] += frames.shape[0]
        return (totals / np.maximum(weights, 1e-12)[:, None]).astype(np.float32)


class EnsemblePredictor:
    """The mean probability of several fold models with the same labels."""

    def __init__(self, members: list, labels: list[str]):
        self.members = members
        self.labels = labels

    def __repr__(self) -> str:
        return f"EnsemblePredictor({len(self.members)} folds, labels={self.labels})"

    def predict_proba(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        return np.mean([m.predict_proba(signals) for m in self.members], axis=0).astype(np.float32)
