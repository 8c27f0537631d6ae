"""A small Transformer encoder over frame sequences, with a padding mask and mean pooling."""

from __future__ import annotations

import math

import torch
from torch import nn

from ser.models.layers import frame_mask, masked_mean


def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    """The fixed sine/cosine position table of Vaswani et al. (2017), [n_positions, d_model]."""
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(n_positions, d_model)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: d_model // 2])
    return table


class TransformerClassifier(nn.Module):
    """Linear projection to ``d_model``, sinusoidal positions, ``layers`` pre-norm encoder
    layers attending only to real frames, masked mean over time, linear head.

    ``max_positions`` bounds the sequence length (frames); longer input is an error, which the
    training pipeline avoids by cropping to ``features.max_frames``.
    """

    input_kind = "frames"

    def __init__(self, n_features: int, n_classes: int, *, d_model: int = 64, heads: int = 4, layers: int = 2,
                 ff: int = 128, dropout: float = 0.2, max_positions: int = 2000):
        super().__init__()
        self.project = nn.Linear(n_features, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_positions, d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True, norm_first=True)
        # No nested tensors: they are a speed path whose results can differ between batch layouts.
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.positions.shape[0]:
            raise ValueError(f"transformer: {x.shape[1]} frames exceed max_positions={self.positions.shape[0]}")
        h = self.project(x) + self.positions[: x.shape[1]]
        h = self.encoder(h, src_key_padding_mask=~frame_mask(lengths.clamp(min=1), x.shape[1]))
        return self.head(masked_mean(self.norm(h), lengths))
