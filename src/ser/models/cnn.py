"""Convolutional networks over frame sequences: a 1-D CNN over time and a 2-D CNN over log-mel.

Both take ``x`` [B, T, F] and ``lengths`` [B] and pool only over each clip's real frames, so
padding a batch does not change any clip's logits (up to the receptive field at the edge,
where padded frames are zeros).
"""

from __future__ import annotations

import torch
from torch import nn

from ser.models.layers import conv1d_block, frame_mask, masked_mean, masked_mean_max, pooled_lengths, zero_padding


class CNN1D(nn.Module):
    """Convolutions over time with the feature dimensions as channels, then mean+max pooling.

    ``n_blocks`` blocks of Conv1d(kernel) -> BatchNorm -> ReLU -> MaxPool(2) -> Dropout, with
    ``channels`` doubling from block to block up to ``4 * channels``; then a linear layer on
    the concatenated mean and max over time.
    """

    input_kind = "frames"

    def __init__(self, n_features: int, n_classes: int, *, channels: int = 64, n_blocks: int = 3,
                 kernel_size: int = 5, dropout: float = 0.3):
        super().__init__()
        blocks, width_in = [], n_features
        for block in range(n_blocks):
            width = channels * min(2**block, 4)
            blocks.append(conv1d_block(width_in, width, kernel_size, dropout, pool=block < n_blocks - 1))
            width_in = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(2 * width_in, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        short = 2 ** (len(self.blocks) - 1) - x.shape[1]
        if short > 0:  # the pools need 2**(n_blocks - 1) frames
            x = nn.functional.pad(x, (0, 0, 0, short))
        h = x
        for block, halvings in zip(self.blocks, range(len(self.blocks) - 1, -1, -1)):
            # Padded frames go back to zero before every convolution, as at a clip's true end.
            h = block(zero_padding(h, lengths).transpose(1, 2)).transpose(1, 2)
            lengths = pooled_lengths(lengths, 1) if halvings else lengths
        return self.head(masked_mean_max(h, lengths.clamp(max=h.shape[1])))


class CNN2D(nn.Module):
    """A small image CNN over the [T, F] log-mel "picture": 2-D conv blocks, then pooling.

    Each block is Conv2d(3x3) -> BatchNorm -> ReLU -> MaxPool(2x2) -> Dropout; the frequency
    axis is averaged out, time is mean-pooled over the real frames.
    """

    input_kind = "frames"

    def __init__(self, n_features: int, n_classes: int, *, channels: int = 16, n_blocks: int = 3,
                 dropout: float = 0.3):
        super().__init__()
        blocks, width_in = [], 1
        for block in range(n_blocks):
            width = channels * 2**block
            blocks.append(nn.Sequential(
                nn.Conv2d(width_in, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Dropout(dropout),
            ))
            width_in = width
        if n_features < 2**n_blocks:
            raise ValueError(f"cnn2d with {n_blocks} blocks needs at least {2**n_blocks} features, got {n_features}")
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(width_in, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        short = 2 ** len(self.blocks) - x.shape[1]
        if short > 0:  # the pools need 2**n_blocks frames
            x = nn.functional.pad(x, (0, 0, 0, short))
        h = x.unsqueeze(1)  # [B, 1, T, F]
        for block in self.blocks:
            mask = frame_mask(lengths, h.shape[2])[:, None, :, None].to(h.dtype)
            h = block(h * mask)
            lengths = pooled_lengths(lengths, 1)
        h = h.mean(dim=3).transpose(1, 2)  # [B, T', C]
        return self.head(masked_mean(h, lengths.clamp(max=h.shape[1])))
