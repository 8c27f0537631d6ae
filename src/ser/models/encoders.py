"""Pretrained speech encoders in PyTorch: Whisper's audio encoder, run on a clip's own length.

transformers' ``WhisperEncoder`` insists on 30 s of input (3000 log-mel frames). The network
itself does not need it: the convolutions, the first T rows of the position table, the layers and
the final layer norm work on any length up to 30 s, at a cost proportional to the clip. This
module implements that encoder in plain PyTorch (so training and export need no transformers)
and loads the published weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ser.errors import ModelError


@dataclass(frozen=True)
class WhisperEncoderConfig:
    """The shape of a Whisper audio encoder (tiny: 4 layers, d_model 384, 6 heads)."""

    n_mels: int = 80
    d_model: int = 384
    n_layers: int = 4
    n_heads: int = 6
    ffn_dim: int = 1536
    max_positions: int = 1500

    @classmethod
    def from_hf(cls, config: dict) -> "WhisperEncoderConfig":
        """From a transformers ``WhisperConfig`` as a dict (its config.json)."""
        return cls(
            n_mels=config.get("num_mel_bins", 80),
            d_model=config["d_model"],
            n_layers=config["encoder_layers"],
            n_heads=config["encoder_attention_heads"],
            ffn_dim=config["encoder_ffn_dim"],
            max_positions=config.get("max_source_positions", 1500),
        )


class _Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)  # Whisper's keys carry no bias
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, key_padding: torch.Tensor | None) -> torch.Tensor:
        batch, time, dim = x.shape
        head_dim = dim // self.n_heads

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, time, self.n_heads, head_dim).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim)
        if key_padding is not None:
            scores = scores.masked_fill(key_padding[:, None, None, :], float("-inf"))
        out = scores.softmax(dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(batch, time, dim))


class _Layer(nn.Module):
    def __init__(self, config: WhisperEncoderConfig):
        super().__init__()
        self.self_attn = _Attention(config.d_model, config.n_heads)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.ffn_dim)
        self.fc2 = nn.Linear(config.ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)

    def forward(self, x: torch.Tensor, key_padding: torch.Tensor | None) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), key_padding)
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder over log-mel features of any length up to 30 s.

    Input: log-mel ``[batch, n_mels, frames]`` (``ser.features.logmel``, 100 frames/s) and
    optionally ``lengths [batch]`` in frames. Output: the hidden states ``[n_layers + 1, batch,
    ceil(frames / 2), d_model]`` (50 per second): the embeddings, then each layer's output, the
    last one after the final layer norm, as transformers' ``output_hidden_states`` gives them.
    """

    def __init__(self, config: WhisperEncoderConfig = WhisperEncoderConfig()):
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv1d(config.n_mels, config.d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(config.d_model, config.d_model, kernel_size=3, stride=2, padding=1)
        self.embed_positions = nn.Embedding(config.max_positions, config.d_model)
        self.layers = nn.ModuleList(_Layer(config) for _ in range(config.n_layers))
        self.layer_norm = nn.LayerNorm(config.d_model)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = F.gelu(self.conv1(features))
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        time = x.shape[1]
        x = x + self.embed_positions.weight[:time]
        key_padding = None
        if lengths is not None:
            out_lengths = output_lengths(lengths)
            key_padding = torch.arange(time, device=x.device)[None, :] >= out_lengths[:, None]
        states = [x]
        for index, layer in enumerate(self.layers):
            x = layer(x, key_padding)
            states.append(self.layer_norm(x) if index == len(self.layers) - 1 else x)
        return torch.stack(states)


def output_lengths(frames: torch.Tensor) -> torch.Tensor:
    """Encoder frames for a number of log-mel frames: the stride-2 convolution halves, rounding up."""
    return (frames + 1) // 2


def load_whisper_encoder(source: str | Path) -> WhisperEncoder:
    """Load a Whisper encoder from a local folder or a Hugging Face hub id.

    A local folder holds ``config.json`` and ``model.safetensors`` with the encoder's keys
    (``conv1.weight``, ``layers.0.fc1.weight``, ...). A hub id such as ``openai/whisper-base``
    is fetched with huggingface_hub (needs internet the first time); its keys carry the prefix
    ``model.encoder.``, which is stripped, and the decoder's weights are ignored.
    """
    from safetensors.torch import load_file

    folder = Path(source)
    if not folder.is_dir():
        folder = _download_from_hub(str(source))
    config_path, weights_path = folder / "config.json", folder / "model.safetensors"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ModelError(f"{folder}: no {path.name}; expected a Whisper encoder folder or a hub id")
    config = WhisperEncoderConfig.from_hf(json.loads(config_path.read_text()))
    state = {}
    for key, value in load_file(str(weights_path)).items():
        for prefix in ("model.encoder.", "encoder."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        else:
            if key.startswith(("model.decoder.", "decoder.", "proj_out")):
                continue
        state[key] = value.float()
    encoder = WhisperEncoder(config)
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelError(f"{folder}: weights do not fit a Whisper encoder (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return encoder.eval()


def _download_from_hub(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ModelError(f"{repo_id}: not a folder, and huggingface_hub is not installed to fetch it") from None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=["config.json", "model.safetensors"]))
    except Exception as exc:  # network, auth or a wrong id: all mean "cannot get it"
        raise ModelError(f"{repo_id}: cannot fetch it from the Hugging Face hub ({exc})") from None


# --------------------------------------------------------------------------------------------
# Self-supervised speech encoders through transformers: wav2vec2, HuBERT, WavLM

SSL_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm")


class SSLEncoder(nn.Module):
    """A wav2vec2, HuBERT or WavLM model as an encoder with the same output as `WhisperEncoder`.

    Input: 16 kHz waveforms ``[batch, samples]`` and optionally ``lengths [batch]`` in samples.
    Output: hidden states ``[n_layers + 1, batch, frames, hidden]`` (about 50 frames per second):
    the CNN features after projection, then each transformer layer's output. Padding is
    zeros; each clip is normalised to zero mean and unit variance over its own samples when the
    checkpoint was trained that way (``do_normalize`` in its preprocessor config, default yes).
    """

    def __init__(self, model: nn.Module, normalize: bool = True):
        super().__init__()
        self.model = model
        self.normalize = normalize

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Encoder frames for clips of `lengths` samples."""
        return self.model._get_feat_extract_output_lengths(lengths).to(torch.int64)

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        batch, samples = waveform.shape
        mask = None
        if lengths is not None:
            mask = torch.arange(samples, device=waveform.device)[None, :] < lengths[:, None]
        if self.normalize:
            weights = mask.to(waveform.dtype) if mask is not None else torch.ones_like(waveform)
            count = weights.sum(dim=1, keepdim=True).clamp(min=1)
            mean = (waveform * weights).sum(dim=1, keepdim=True) / count
            var = (((waveform - mean) * weights) ** 2).sum(dim=1, keepdim=True) / count
            waveform = (waveform - mean) / torch.sqrt(var + 1e-7) * weights
        # Checkpoints whose feature encoder uses group norm (wav2vec2-base, HuBERT-base) were
        # trained on zero-padded batches without an attention mask; transformers says not to pass one.
        pass_mask = mask is not None and getattr(self.model.config, "feat_extract_norm", "layer") == "layer"
        out = self.model(waveform, attention_mask=mask.long() if pass_mask else None, output_hidden_states=True)
        return torch.stack(out.hidden_states)


def ssl_encoder_from_config(config) -> SSLEncoder:
    """A randomly initialised encoder from a transformers config (``Wav2Vec2Config``, ``HubertConfig``, ``WavLMConfig``)."""
    from transformers import AutoModel

    if config.model_type not in SSL_MODEL_TYPES:
        raise ModelError(f"model type {config.model_type!r} is not one of {', '.join(SSL_MODEL_TYPES)}")
    return SSLEncoder(AutoModel.from_config(config)).eval()


def load_ssl_encoder(source: str | Path) -> SSLEncoder:
    """Load wav2vec2, HuBERT or WavLM from a local folder (``save_pretrained`` layout) or a hub id.

    Examples of hub ids: ``facebook/wav2vec2-base``, ``facebook/hubert-base-ls960``,
    ``microsoft/wavlm-base-plus`` (downloaded by transformers the first time; needs internet).
    """
    try:
        from transformers import AutoConfig, AutoModel
    except ImportError:
        raise ModelError(f"{source}: wav2vec2/HuBERT/WavLM encoders need transformers (pip install 'ser[encoders]')") from None
    try:
        config = AutoConfig.from_pretrained(str(source))
    except Exception as exc:  # missing folder, no network, wrong id: all mean "cannot get it"
        raise ModelError(f"{source}: cannot load an encoder config ({exc})") from None
    if config.model_type not in SSL_MODEL_TYPES:
        raise ModelError(f"{source}: model type {config.model_type!r} is not one of {', '.join(SSL_MODEL_TYPES)}")
    normalize = True
    preprocessor = Path(source) / "preprocessor_config.json"
    if preprocessor.is_file():
        normalize = bool(json.loads(preprocessor.read_text()).get("do_normalize", True))
    try:
        model = AutoModel.from_pretrained(str(source))
    except Exception as exc:
        raise ModelError(f"{source}: cannot load the encoder's weights ({exc})") from None
    return SSLEncoder(model, normalize=normalize).eval()
