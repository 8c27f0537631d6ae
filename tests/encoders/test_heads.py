"""Heads over encoder states: padding is ignored, and training from cached states equals the full model."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ser.models.encoders import WhisperEncoder, WhisperEncoderConfig  # noqa: E402
from ser.models.heads import AttentiveStatsPooling, WhisperEmotion  # noqa: E402

CONFIG = WhisperEncoderConfig(n_mels=80, d_model=32, n_layers=4, n_heads=4, ffn_dim=64, max_positions=200)


def test_attentive_pooling_ignores_padding():
    torch.manual_seed(0)
    pool = AttentiveStatsPooling(8).eval()
    x = torch.randn(1, 10, 8)
    padded = torch.cat([x, torch.randn(1, 5, 8) * 100], dim=1)
    mask = torch.arange(15)[None] < 10
    assert torch.allclose(pool(x), pool(padded, mask), atol=1e-5)


@pytest.mark.parametrize("trainable", [0, 1, 2])
def test_forward_from_cached_states_equals_the_exported_forward(trainable):
    """Training reads each clip's states computed alone, padded into a batch; inference runs one clip."""
    torch.manual_seed(0)
    model = WhisperEmotion(WhisperEncoder(CONFIG).eval(), n_classes=7, trainable_layers=trainable).eval()
    clips = [torch.randn(1, 80, 60), torch.randn(1, 80, 41)]
    with torch.no_grad():
        alone = torch.cat([model(clip) for clip in clips])
        states = [model.encoder(clip)[: model.first_trainable + 1, 0] for clip in clips]
        lengths = torch.tensor([s.shape[1] for s in states])
        batch = torch.zeros(model.first_trainable + 1, 2, int(lengths.max()), CONFIG.d_model)
        for i, s in enumerate(states):
            batch[:, i, : s.shape[1]] = s
        cached = model.forward_from(batch, lengths)
    assert torch.allclose(cached, alone, atol=1e-4)


def test_only_the_top_layers_train():
    model = WhisperEmotion(WhisperEncoder(CONFIG), n_classes=3, trainable_layers=1)
    trainable = {name for name, p in model.encoder.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith(("layers.3.", "layer_norm.")) for name in trainable)
    with pytest.raises(ValueError):
        WhisperEmotion(WhisperEncoder(CONFIG), n_classes=3, trainable_layers=5)


def test_stats_head_pools_like_the_frozen_probe_and_takes_its_weights():
    torch.manual_seed(0)
    from ser.models.heads import StatsHead

    states = torch.randn(4, 2, 9, 32)
    pooled = StatsHead.pooled(states)
    # Layout (stat, layer, dim), as ser.training.default_model.PooledWhisper flattens it.
    expected = torch.stack([states.mean(2), states.std(2, unbiased=False)], 1).permute(2, 1, 0, 3).flatten(1)
    assert torch.allclose(pooled, expected, atol=1e-6)
    padded = torch.cat([states[:, :1], torch.randn(4, 1, 3, 32)], dim=2)
    mask = torch.arange(12)[None] < 9
    assert torch.allclose(StatsHead.pooled(padded, mask), pooled[:1], atol=1e-5)
    head = StatsHead(4, 32, 3).eval()
    mean, scale = pooled.mean(0), pooled.std(0) + 1
    weight, bias = torch.randn(3, 256), torch.randn(3)
    head.set_probe(mean, scale, weight, bias)
    assert torch.allclose(head(states), ((pooled - mean) / scale) @ weight.T + bias, atol=1e-4)
