"""wav2vec2, HuBERT and WavLM as encoders: tiny random configurations built offline, nothing downloaded."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from ser.errors import ModelError  # noqa: E402
from ser.models.encoders import load_ssl_encoder, ssl_encoder_from_config  # noqa: E402
from ser.models.heads import EmotionHead, frame_mask  # noqa: E402

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=2)


def tiny_configs():
    return [
        transformers.Wav2Vec2Config(**TINY),
        transformers.Wav2Vec2Config(**TINY, feat_extract_norm="layer", do_stable_layer_norm=True),
        transformers.HubertConfig(**TINY),
        transformers.WavLMConfig(**TINY, num_buckets=16, max_bucket_distance=50),
    ]


@pytest.mark.parametrize("config", tiny_configs(), ids=lambda c: f"{c.model_type}-{c.feat_extract_norm}")
def test_hidden_states_shape_and_a_training_step(config):
    torch.manual_seed(0)
    encoder = ssl_encoder_from_config(config)
    waveform = torch.randn(2, 3200)
    lengths = torch.tensor([3200, 2000])
    waveform[1, 2000:] = 0
    states = encoder(waveform, lengths)
    frames = encoder.output_lengths(lengths)
    assert states.shape == (config.num_hidden_layers + 1, 2, int(frames.max()), config.hidden_size)
    head = EmotionHead(config.num_hidden_layers + 1, config.hidden_size, n_classes=7)
    logits = head(states, frame_mask(frames, states.shape[2]))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 4]))
    loss.backward()
    assert torch.isfinite(loss) and head.layer_logits.grad is not None


def test_a_padded_clip_gives_what_it_gives_alone_with_an_attention_mask():
    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(**TINY, feat_extract_norm="layer", do_stable_layer_norm=True)
    encoder = ssl_encoder_from_config(config)
    clip = torch.randn(1, 2000)
    with torch.no_grad():
        alone = encoder(clip)
        padded = encoder(torch.cat([clip, torch.zeros(1, 1200)], dim=1), torch.tensor([2000]))
    n = int(encoder.output_lengths(torch.tensor([2000])))
    assert torch.allclose(padded[-1, :, :n], alone[-1, :, :n], atol=1e-4)


def test_load_from_a_local_folder(tmp_path):
    encoder = ssl_encoder_from_config(transformers.HubertConfig(**TINY))
    encoder.model.save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"do_normalize": False}))
    loaded = load_ssl_encoder(tmp_path)
    assert not loaded.normalize
    x = torch.randn(1, 1600)
    with torch.no_grad():
        assert torch.allclose(loaded(x), encoder.__class__(encoder.model, normalize=False)(x), atol=1e-5)


def test_bad_sources_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="cannot load an encoder config"):
        load_ssl_encoder(tmp_path / "missing")
    transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match="not one of wav2vec2"):
        load_ssl_encoder(tmp_path)
