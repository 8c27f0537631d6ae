"""Building blocks shared by the frame models: masks, masked pooling, convolution blocks."""

from __future__ import annotations

import torch
from torch import nn


def frame_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Bool [B, max_len], True on the frames each clip really has (``t < lengths[b]``)."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over time of [B, T, D] using only each clip's first ``lengths[b]`` frames -> [B, D]."""
    mask = frame_mask(lengths, x.shape[1]).unsqueeze(-1).to(x.dtype)
    return (x * mask).sum(dim=1) / lengths.clamp(min=1).unsqueeze(-1).to(x.dtype)


def masked_mean_max(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean and max over the real frames of [B, T, D], concatenated -> [B, 2 D]."""
    mask = frame_mask(lengths, x.shape[1]).unsqueeze(-1)
    peak = x.masked_fill(~mask, float("-inf")).amax(dim=1)
    return torch.cat([masked_mean(x, lengths), peak], dim=-1)


def pooled_lengths(lengths: torch.Tensor, n_halvings: int) -> torch.Tensor:
    """Frames left after `n_halvings` max-pools of size 2 (floor), at least 1."""
    for _ in range(n_halvings):
        lengths = torch.div(lengths, 2, rounding_mode="floor")
    return lengths.clamp(min=1)


def zero_padding(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[B, T, D] with the padded frames set to 0 (so convolutions see silence, not old values)."""
    return x * frame_mask(lengths, x.shape[1]).unsqueeze(-1).to(x.dtype)


def conv1d_block(width_in: int, width: int, kernel_size: int, dropout: float, pool: bool = True) -> nn.Sequential:
    """Conv1d (same padding) -> BatchNorm -> ReLU -> MaxPool(2) (if `pool`) -> Dropout, on [B, C, T]."""
    return nn.Sequential(
        nn.Conv1d(width_in, width, kernel_size, padding=kernel_size // 2),
        nn.BatchNorm1d(width),
        nn.ReLU(),
        nn.MaxPool1d(2) if pool else nn.Identity(),
        nn.Dropout(dropout),
    )
