"""The Whisper encoder and front end against transformers' reference implementation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ser.features.logmel import log_mel_spectrogram, mel_filters
from ser.models.encoders import WhisperEncoder, WhisperEncoderConfig, load_whisper_encoder, output_lengths

transformers = pytest.importorskip("transformers")


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    voiced = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return (voiced + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def test_mel_filters_equal_librosa():
    librosa = pytest.importorskip("librosa")
    np.testing.assert_allclose(mel_filters(), librosa.filters.mel(sr=16000, n_fft=400, n_mels=80), atol=1e-7)


def test_front_end_equals_whisper_feature_extractor():
    signal = _speechlike(3.0)
    padded = np.pad(signal, (0, 480000 - signal.size))  # the extractor always pads to 30 s
    extractor = transformers.WhisperFeatureExtractor(feature_size=80)
    reference = extractor(padded, sampling_rate=16000, return_tensors="np").input_features[0]
    ours = log_mel_spectrogram(padded)
    assert ours.shape == reference.shape == (80, 3000)
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_front_end_on_the_clips_own_length():
    signal = _speechlike(1.234)
    features = log_mel_spectrogram(signal)
    assert features.shape == (80, signal.size // 160)
    assert features.dtype == np.float32
    assert log_mel_spectrogram(np.zeros(100, dtype=np.float32)).shape == (80, 0)


def _tiny_pair():
    config = transformers.WhisperConfig(
        num_mel_bins=80, d_model=32, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=64,
        max_source_positions=1500, decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=64,
    )
    torch.manual_seed(0)
    reference = transformers.models.whisper.modeling_whisper.WhisperEncoder(config).eval()
    ours = WhisperEncoder(WhisperEncoderConfig.from_hf(config.to_dict())).eval()
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def test_hidden_states_equal_transformers_on_30_seconds():
    reference, ours = _tiny_pair()
    features = torch.randn(1, 80, 3000)
    with torch.no_grad():
        expected = reference(features, output_hidden_states=True).hidden_states
        got = ours(features)
    assert got.shape == (3, 1, 1500, 32)
    for layer in range(3):
        torch.testing.assert_close(got[layer], expected[layer], atol=1e-4, rtol=1e-4)


def test_padding_mask_keeps_a_clips_states():
    _, ours = _tiny_pair()
    clip = torch.randn(1, 80, 200)
    batch = torch.cat([clip, torch.zeros(1, 80, 200)], dim=2)  # the same clip, zero-padded
    with torch.no_grad():
        alone = ours(clip)
        padded = ours(batch, lengths=torch.tensor([200]))
    torch.testing.assert_close(padded[:, :, :100], alone, atol=1e-5, rtol=1e-5)
    assert output_lengths(torch.tensor([200, 201])).tolist() == [100, 101]


def test_pretrained_weights_load_and_match_transformers(whisper_dir):
    from safetensors.torch import load_file

    ours = load_whisper_encoder(whisper_dir)
    config = transformers.WhisperConfig.from_dict(json.loads((whisper_dir / "config.json").read_text()))
    reference = transformers.models.whisper.modeling_whisper.WhisperEncoder(config).eval()
    reference.load_state_dict({k: v.float() for k, v in load_file(str(whisper_dir / "model.safetensors")).items()})
    signal = np.pad(_speechlike(2.0), (0, 480000 - 32000))
    features = torch.from_numpy(log_mel_spectrogram(signal))[None]
    with torch.no_grad():
        expected = reference(features, output_hidden_states=True).hidden_states
        got = ours(features)
    for layer in range(len(expected)):
        torch.testing.assert_close(got[layer], expected[layer], atol=2e-4, rtol=1e-4)


def test_hub_prefix_is_stripped(tmp_path):
    from safetensors.torch import save_file

    _, ours = _tiny_pair()
    config = {"num_mel_bins": 80, "d_model": 32, "encoder_layers": 2, "encoder_attention_heads": 4,
              "encoder_ffn_dim": 64, "max_source_positions": 1500}
    (tmp_path / "config.json").write_text(json.dumps(config))
    state = {f"model.encoder.{k}": v.contiguous() for k, v in ours.state_dict().items()}
    state["model.decoder.embed_tokens.weight"] = torch.zeros(4, 32)
    save_file(state, str(tmp_path / "model.safetensors"))
    loaded = load_whisper_encoder(tmp_path)
    features = torch.randn(1, 80, 50)
    with torch.no_grad():
        torch.testing.assert_close(loaded(features), ours(features))


def test_missing_folder_is_a_clear_error(tmp_path):
    from ser.errors import ModelError

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="model.safetensors"):
        load_whisper_encoder(tmp_path)
