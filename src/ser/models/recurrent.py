"""Recurrent networks over frame sequences: LSTM, BiLSTM, GRU and CLSTM (convolutions, then LSTM).

Sequences are packed (`pack_padded_sequence`), so the recurrence never sees padding; the
outputs are mean-pooled over each clip's real frames and classified by a linear layer.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ser.models.layers import conv1d_block, masked_mean, pooled_lengths, zero_padding


class _Recurrent(nn.Module):
    """``cell`` over the frames (optionally both ways), masked mean of the outputs, linear head."""

    input_kind = "frames"
    cell: type[nn.RNNBase] = nn.LSTM
    bidirectional = False

    def __init__(self, n_features: int, n_classes: int, *, hidden: int = 128, layers: int = 2,
                 dropout: float = 0.3):
        super().__init__()
        self.rnn = self.cell(
            n_features, hidden, num_layers=layers, batch_first=True,
            dropout=dropout if layers > 1 else 0.0, bidirectional=self.bidirectional,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden * (2 if self.bidirectional else 1), n_classes)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Recurrent outputs [B, T, H] (zeros past each length)."""
        packed = pack_padded_sequence(x, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(masked_mean(self.encode(x, lengths), lengths)))


class LSTMClassifier(_Recurrent):
    """A (stacked) unidirectional LSTM."""


class BiLSTMClassifier(_Recurrent):
    """A (stacked) bidirectional LSTM; the head sees both directions."""

    bidirectional = True


class GRUClassifier(_Recurrent):
    """A (stacked) unidirectional GRU."""

    cell = nn.GRU


class CLSTM(nn.Module):
    """Convolutions over time (local spectral patterns, time halved per block), then an LSTM.

    ``n_blocks`` blocks of Conv1d -> BatchNorm -> ReLU -> MaxPool(2) -> Dropout, then an LSTM
    over the shortened sequence, masked mean pooling and a linear head.
    """

    input_kind = "frames"

    def __init__(self, n_features: int, n_classes: int, *, channels: int = 64, n_blocks: int = 2,
                 kernel_size: int = 5, hidden: int = 128, layers: int = 1, dropout: float = 0.3):
        super().__init__()
        blocks, width_in = [], n_features
        for _ in range(n_blocks):
            blocks.append(conv1d_block(width_in, channels, kernel_size, dropout))
            width_in = channels
        self.blocks = nn.ModuleList(blocks)
        self.rnn = nn.LSTM(channels, hidden, num_layers=layers, batch_first=True,
                           dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        short = 2 ** len(self.blocks) - x.shape[1]
        if short > 0:  # the pools need 2**n_blocks frames
            x = nn.functional.pad(x, (0, 0, 0, short))
        h = x
        for block in self.blocks:
            # Padded frames go back to zero before every convolution, as at a clip's true end.
            h = block(zero_padding(h, lengths).transpose(1, 2)).transpose(1, 2)
            lengths = pooled_lengths(lengths, 1)
        reduced = lengths.clamp(max=h.shape[1])
        packed = pack_padded_sequence(h, reduced.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
        return self.head(self.dropout(masked_mean(out, reduced)))
