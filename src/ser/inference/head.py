"""The centred linear head of an adaptable model folder (``head.npz``), in numpy.

    z = (e - centre - scaler_mean) / scaler_scale ;  logits = z @ coef.T + intercept

``e`` is the graph's pooled embedding ``[n, D]``. With no context the centre is the training
population's mean embedding; adapted to a speaker it is that speaker's mean embedding, shrunk
toward the population mean (`speaker_centre`). The speaker's audio forms the centre, never its
labels. The model-folder format (`ser.model_folder`) names this head ``"kind": "centred_linear"``;
this module owns its file: the export writes it (`CentredHead.save`), the ONNX backend
(`ser.inference.backends`) reads it (`CentredHead.load`) and applies it (`CentredHead.logits`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEAD_KIND = "centred_linear"
ADAPTATION_KIND = "speaker_centring"
HEAD_ARRAYS = ("population_mean", "scaler_mean", "scaler_scale", "coef", "intercept")


def speaker_centre(embeddings: np.ndarray, population_mean: np.ndarray, shrinkage: float) -> np.ndarray:
    """``(sum of the n embeddings + k * population_mean) / (n + k)``: ``[n, D]`` -> ``[D]``.

    With n = 0 it is the population mean; a single clip moves it 1 / (1 + k) of the way (a sixth
    with the shipped k = 5), so a small group has no cliff.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64).reshape(-1, len(population_mean))
    return shrunk_centre(embeddings.sum(axis=0), len(embeddings), population_mean, shrinkage)


def shrunk_centre(embedding_sum: np.ndarray, n: int, population_mean: np.ndarray, shrinkage: float) -> np.ndarray:
    """`speaker_centre` from the sum ``[D]`` of n embeddings (what a `SpeakerProfile` keeps): ``[D]``."""
    return (embedding_sum + shrinkage * population_mean) / (n + shrinkage)


@dataclass
class CentredHead:
    """Standardisation and a linear layer applied to centred embeddings (shapes: D inputs, C classes)."""

    population_mean: np.ndarray  # [D]
    scaler_mean: np.ndarray  # [D]
    scaler_scale: np.ndarray  # [D]
    coef: np.ndarray  # [C, D]
    intercept: np.ndarray  # [C]

    @classmethod
    def from_pipeline(cls, pipeline, population_mean: np.ndarray) -> "CentredHead":
        """From a fitted scikit-learn ``StandardScaler -> LogisticRegression`` pipeline."""
        scaler, linear = pipeline[0], pipeline[-1]
        return cls(np.asarray(population_mean, np.float64), scaler.mean_, scaler.scale_, linear.coef_, linear.intercept_)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``head.npz`` (float32 arrays) atomically."""
        from ser.files import atomic_write

        with atomic_write(path, "wb", encoding=None) as handle:
            np.savez(handle, **{name: np.asarray(getattr(self, name), np.float32) for name in HEAD_ARRAYS})
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike, embedding_size: int, n_labels: int) -> "CentredHead":
        """Read ``head.npz``, checked against the graph's embedding size and the model's labels.

        Raises `ser.errors.ModelError` naming the file and what is wrong with it.
        """
        from ser.errors import ModelError

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path.parent}: the head file {path.name} named in ser_model.json is missing")
        try:
            with np.load(path) as data:
                arrays = {name: np.asarray(data[name], dtype=np.float64) for name in HEAD_ARRAYS}
        except (KeyError, ValueError, OSError) as exc:
            raise ModelError(f"{path}: not a head file with arrays {', '.join(HEAD_ARRAYS)} ({exc})") from None
        d, c = embedding_size, n_labels
        shapes = {"population_mean": (d,), "scaler_mean": (d,), "scaler_scale": (d,), "coef": (c, d), "intercept": (c,)}
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise ModelError(
                    f"{path}: {name} has shape {arrays[name].shape}, expected {shape} (graph output {d}, {c} labels)"
                )
        return cls(**arrays)

    def logits(self, embeddings: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
        """``[n, D]`` embeddings -> ``[n, C]`` logits; `centre` ``[D]`` defaults to the population mean."""
        centre = self.population_mean if centre is None else centre
        z = (np.asarray(embeddings, np.float64) - centre - self.scaler_mean) / self.scaler_scale
        return z @ self.coef.T + self.intercept
