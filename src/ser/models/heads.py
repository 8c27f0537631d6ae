"""Heads over a pretrained encoder's hidden states: layer mixing, attentive pooling, a classifier.

    hidden states [L, B, T, D] --(softmax-weighted sum over L, each layer normalised)--> [B, T, D]
                               --(attentive mean and std over T, padding ignored)----> [B, 2D]
                               --(dropout, linear, GELU, dropout, linear)------------> logits [B, C]

`WhisperEmotion` joins a Whisper encoder and this head. Its top layers can be trained (fine-tuned)
while the lower ones stay frozen; since frozen layers give the same output every epoch, their
output is computed once and cached, and training runs from there (`forward_from`).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ser.models.encoders import WhisperEncoder, output_lengths


def frame_mask(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """``[B, T]`` bool, True on real frames, False on padding."""
    return torch.arange(time, device=lengths.device)[None, :] < lengths[:, None]


class AttentiveStatsPooling(nn.Module):
    """``[B, T, D]`` (+ mask ``[B, T]``) -> ``[B, 2D]``: attention-weighted mean and standard deviation.

    Frames the mask marks as padding get zero weight, so a clip's pooled vector does not depend
    on how much it was padded in its batch.
    """

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.attention = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        scores = self.attention(x).squeeze(-1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1).unsqueeze(-1)
        mean = (weights * x).sum(dim=1)
        var = (weights * (x - mean.unsqueeze(1)) ** 2).sum(dim=1)
        return torch.cat([mean, var.clamp(min=1e-6).sqrt()], dim=-1)


class EmotionHead(nn.Module):
    """Hidden states ``[L, B, T, D]`` (+ mask ``[B, T]``) -> logits ``[B, n_classes]``.

    Each layer is layer-normalised before the weighted sum because the residual stream grows
    from layer to layer: without it the largest layer would dominate whatever the weights say.
    """

    def __init__(self, n_layers: int, dim: int, n_classes: int, hidden: int = 256, dropout: float = 0.2):
        super().__init__()
        self.layer_logits = nn.Parameter(torch.zeros(n_layers))
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.pool = AttentiveStatsPooling(dim)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes)
        )

    def layer_weights(self) -> torch.Tensor:
        return self.layer_logits.softmax(dim=0)

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mixed = torch.einsum("l,lbtd->btd", self.layer_weights(), self.norm(states))
        return self.classifier(self.pool(mixed, mask))


class StatsHead(nn.Module):
    """Hidden states ``[L, B, T, D]`` (+ mask) -> logits: mean and std over time of every layer, standardised, linear.

    The frozen probe's features (``[B, 2 * L * D]``, laid out stat, layer, dim) with the scaler
    and the linear layer inside the network, so that a probe fitted on cached features can be
    loaded into it (`set_probe`) and then fine-tuned together with the top encoder layers
    (linear probing, then fine-tuning: the head starts where the probe is instead of at random,
    which keeps the pretrained features from being torn up by the first large gradients).
    """

    def __init__(self, n_layers: int, dim: int, n_classes: int, dropout: float = 0.1):
        super().__init__()
        n_features = 2 * n_layers * dim
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(n_features, n_classes)

    @staticmethod
    def pooled(states: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[L, B, T, D]`` -> ``[B, 2 * L * D]``: mean, then standard deviation, of each layer over real frames."""
        if mask is None:
            mean, std = states.mean(dim=2), states.std(dim=2, unbiased=False)
        else:
            weights = (mask.to(states.dtype) / mask.sum(dim=1, keepdim=True).clamp(min=1)).unsqueeze(-1)
            mean = (states * weights).sum(dim=2)
            std = ((states - mean.unsqueeze(2)) ** 2 * weights).sum(dim=2).clamp(min=0).sqrt()
        return torch.stack([mean, std], dim=1).permute(2, 1, 0, 3).flatten(1)

    def set_probe(self, mean, scale, weight, bias) -> None:
        """Load a fitted scaler (``[F]`` each) and linear layer (``[C, F]``, ``[C]``), e.g. from scikit-learn."""
        with torch.no_grad():
            for target, value in ((self.mean, mean), (self.scale, scale), (self.linear.weight, weight), (self.linear.bias, bias)):
                target.copy_(torch.as_tensor(value, dtype=torch.float32))

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.linear(self.dropout((self.pooled(states, mask) - self.mean) / self.scale))


class WhisperEmotion(nn.Module):
    """A Whisper encoder and an `EmotionHead` over its hidden layers ``layers`` (0 = embeddings).

    ``trainable_layers = k`` fine-tunes the top k transformer layers (and the final layer norm);
    the convolutions, positions and lower layers stay frozen. ``head`` is ``"attentive"``
    (`EmotionHead`) or ``"stats"`` (`StatsHead`, which a linear probe can initialise).
    """

    def __init__(self, encoder: WhisperEncoder, n_classes: int, layers=(1, 2, 3, 4), trainable_layers: int = 0,
                 head: str = "attentive", hidden: int = 256, dropout: float = 0.2):
        super().__init__()
        self.encoder = copy.deepcopy(encoder)
        self.layers = tuple(layers)
        n_enc = len(self.encoder.layers)
        if not 0 <= trainable_layers <= n_enc:
            raise ValueError(f"trainable_layers must lie in [0, {n_enc}], not {trainable_layers}")
        self.first_trainable = n_enc - trainable_layers  # index into hidden states where training starts
        if head == "attentive":
            self.head = EmotionHead(len(self.layers), encoder.config.d_model, n_classes, hidden, dropout)
        elif head == "stats":
            self.head = StatsHead(len(self.layers), encoder.config.d_model, n_classes, dropout)
        else:
            raise ValueError(f"head must be 'attentive' or 'stats', not {head!r}")
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        for layer in self.encoder.layers[self.first_trainable:]:
            for p in layer.parameters():
                p.requires_grad_(True)
        if trainable_layers:
            for p in self.encoder.layer_norm.parameters():
                p.requires_grad_(True)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def forward_from(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits from cached hidden states ``[first_trainable + 1, B, T, D]`` of the frozen part.

        ``lengths`` are in encoder frames. States above ``first_trainable`` are recomputed by the
        trainable layers.
        """
        time = states.shape[2]
        mask = frame_mask(lengths, time)
        all_states = list(states.unbind(0))
        x = all_states[self.first_trainable]
        n_enc = len(self.encoder.layers)
        for index in range(self.first_trainable, n_enc):
            x = self.encoder.layers[index](x, ~mask)
            all_states.append(self.encoder.layer_norm(x) if index == n_enc - 1 else x)
        chosen = torch.stack([all_states[i] for i in self.layers])
        return self.head(chosen, mask)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, C]`` of log-mel ``[B, 80, frames]``; ``lengths`` in log-mel frames (None: no padding)."""
        states = self.encoder(features, lengths)
        if lengths is None:
            return self.head(states[list(self.layers)])
        mask = frame_mask(output_lengths(lengths), states.shape[2])
        return self.head(states[list(self.layers)], mask)
