"""The default recipe as an ONNX model folder, in one of two forms.

- **Adaptable** (a recipe with speaker centring, the shipped one): the graph maps Whisper log-mel
  ``[batch, 80, frames]`` to the pooled embedding ``[batch, D]`` (mean and standard deviation
  over time of the recipe's encoder layers, before standardisation; D = 2 x 4 x 384 for the
  default recipe), and ``head.npz`` holds the centred linear head (`ser.inference.head`). Adapting to
  a speaker is then numpy arithmetic on embeddings, outside the graph. ``ser_model.json`` records
  the single-clip temperature and the adaptation's shrinkage and temperature.
- **Fixed** (a recipe without centring, or a fine-tuned network): one graph to the logits, with
  the scaler folded into the linear layer. It cannot adapt.

torch is needed to export (the ``train`` extra); the folder predicts with numpy and onnxruntime.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ser.export.folder import staged_folder
from ser.inference.head import ADAPTATION_KIND, HEAD_KIND, CentredHead
from ser.model_folder import read_config, write_config

logger = logging.getLogger(__name__)

GRAPH_FILE = "model.onnx"
HEAD_FILE = "head.npz"
INPUT_NAME = "input_features"


class PooledWhisper(nn.Module):
    """Encoder + statistics pooling: log-mel ``[B, 80, T]`` -> ``[B, len(stats) * len(layers) * d]``.

    All clips in a batch have the same length (the inference backend batches equal lengths), so
    the pooling needs no mask. The layout is ``[stat, layer, dim]`` flattened, the one
    `ser.training.default_model.select_features` reads from the cache.
    """

    def __init__(self, encoder: nn.Module, layers=(1, 2, 3, 4), stats=("mean", "std")):
        super().__init__()
        self.encoder = encoder
        self.layers = tuple(layers)
        self.stats = tuple(stats)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        states = self.encoder(features)[list(self.layers)]  # [L, B, T, D]
        pooled = []
        for stat in self.stats:
            if stat == "mean":
                pooled.append(states.mean(dim=2))
            elif stat == "std":
                pooled.append(states.std(dim=2, unbiased=False))
            else:
                raise ValueError(f"unknown pooling statistic {stat!r}")
        # [L, B, D] per stat -> [B, stat, L, D] flattened.
        return torch.stack(pooled, dim=1).permute(2, 1, 0, 3).flatten(1)


class DefaultModel(nn.Module):
    """The fixed form's graph: pooled encoder states, standardised, through a linear head."""

    def __init__(self, pooled: PooledWhisper, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, bias: np.ndarray):
        super().__init__()
        self.pooled = pooled
        # Folding the scaler into the linear layer: W ((x - m) / s) + b = (W / s) x + (b - W m / s).
        weight = coef / scale[None, :]
        self.head = nn.Linear(coef.shape[1], coef.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
            self.head.bias.copy_(torch.from_numpy((bias - weight @ mean).astype(np.float32)))

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(input_features))


def export_graph(module: nn.Module, path: str | os.PathLike, output: str) -> Path:
    """Export `module` (log-mel ``[batch, 80, frames]`` -> ``[batch, K]``) with dynamic batch and frames."""
    torch.onnx.export(
        module.eval(), (torch.zeros(1, 80, 300),), str(path),
        input_names=[INPUT_NAME], output_names=[output],
        dynamic_axes={INPUT_NAME: {0: "batch", 2: "frames"}, output: {0: "batch"}},
        opset_version=17, dynamo=False,
    )
    return Path(path)


def export_default(recipe, head, labels, temperature: float, metrics: dict, out_dir: str | os.PathLike,
                   training: dict | None = None, model: nn.Module | None = None,
                   adaptation: dict | None = None) -> Path:
    """Write the model folder `out_dir` (aside, then renamed in place; a ``MODEL_CARD.md`` there is kept).

    head : a `CentredHead` (the adaptable form: the graph outputs the embedding) or a fitted
        scikit-learn scaler + logistic-regression pipeline (the fixed form); ignored if `model`.
    model : a fine-tuned network to export as it is (fixed form).
    adaptation : with a `CentredHead`, ``{"shrinkage": k, "temperature_adapted": T}``; None: the
        folder has the head but does not offer adaptation.
    """
    from ser.models.encoders import load_whisper_encoder

    out_dir = Path(out_dir)
    adaptable = model is None and isinstance(head, CentredHead)
    if model is None:
        pooled = PooledWhisper(load_whisper_encoder(recipe.encoder), recipe.layers, recipe.stats).eval()
        if adaptable:
            model = pooled
        else:
            scaler, linear = head[0], head[-1]
            model = DefaultModel(pooled, scaler.mean_, scaler.scale_, linear.coef_, linear.intercept_).eval()
    output = "embedding" if adaptable else "logits"
    config = {
        "backend": "onnx",
        "name": "ser-whisper-tiny-7",
        "version": "0.2.0" if adaptable else "0.1.0",
        "labels": list(labels),
        "frontend": {"kind": "whisper_logmel", "n_mels": 80},
        "onnx": {"file": GRAPH_FILE, "input": INPUT_NAME, "output": output},
        "temperature": round(float(temperature), 4),
        "max_frames": 3000,
        "min_samples": 1600,
        "card": "MODEL_CARD.md",
        "recipe": {k: v for k, v in asdict(recipe).items() if k not in ("datasets", "cache_dir", "encoder")},
        "metrics": metrics,
        "training": training or {},
    }
    if adaptable:
        config["head"] = {"file": HEAD_FILE, "kind": HEAD_KIND}
        if adaptation is not None:
            config["adaptation"] = {"kind": ADAPTATION_KIND, "shrinkage": float(adaptation["shrinkage"]),
                                    "temperature_adapted": round(float(adaptation["temperature_adapted"]), 4)}
    with staged_folder(out_dir) as staging:
        export_graph(model, staging / GRAPH_FILE, output)
        if adaptable:
            head.save(staging / HEAD_FILE)
        write_config(staging, config)
        card = out_dir / "MODEL_CARD.md"
        if card.is_file():
            shutil.copy(card, staging / card.name)
    logger.info("wrote %s (%s)", out_dir, "embedding graph + head" if adaptable else "logits graph")
    return out_dir


def embeddings_of(folder: str | os.PathLike, features: list[np.ndarray]) -> np.ndarray:
    """The adaptable folder's graph run on log-mel `features` (``[1, 80, T]`` each): ``[n, D]``.

    A check of an exported folder that needs no inference backend (onnxruntime only).
    """
    import onnxruntime as ort

    folder = Path(folder)
    config = read_config(folder)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(folder / config["onnx"]["file"]), options, providers=["CPUExecutionProvider"])
    name = config["onnx"]["output"]
    return np.concatenate([session.run([name], {config["onnx"]["input"]: x.astype(np.float32)})[0] for x in features])
