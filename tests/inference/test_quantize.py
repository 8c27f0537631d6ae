"""Int8 quantisation of a model folder: loads in ser, keeps the config, follows the float model, deterministic."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from inference_helpers import real_speech
from ser.errors import ModelError
from ser.model_folder import load_model

pytest.importorskip("onnx", reason="quantisation needs the onnx package (the train extra)")
from ser.export.quantize import agreement, convolutions_as_matmul, quantize_model  # noqa: E402


def test_convolutions_as_matmul_is_exact(tmp_path):
    import onnx
    import onnxruntime as ort
    import torch

    from inference_helpers import _export

    class Convs(torch.nn.Module):  # Whisper's two (kernel 3, stride 1 then 2) and a wider one
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv1d(80, 12, 3, padding=1)
            self.b = torch.nn.Conv1d(12, 12, 3, stride=2, padding=1)
            self.c = torch.nn.Conv1d(12, 7, 5, stride=2, padding=2, bias=False)

        def forward(self, x):
            return self.c(torch.nn.functional.gelu(self.b(torch.nn.functional.gelu(self.a(x))))).mean(-1)

    torch.manual_seed(0)
    path = tmp_path / "convs.onnx"
    _export(torch, Convs().eval(), path)
    rewritten = convolutions_as_matmul(onnx.load(str(path)))
    assert "Conv" not in {n.op_type for n in rewritten.graph.node}
    before = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(rewritten.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for frames in (1, 2, 7, 8, 50, 51):
        x = rng.standard_normal((2, 80, frames)).astype(np.float32)
        np.testing.assert_allclose(after.run(None, {"input_features": x})[0], before.run(None, {"input_features": x})[0], atol=1e-5)


def test_quantised_folder_loads_and_follows_the_float_model(tiny_model_dir, tmp_path):
    (tiny_model_dir / "MODEL_CARD.md").write_text("card")
    out = quantize_model(tiny_model_dir, tmp_path / "int8")
    source = json.loads((tiny_model_dir / "ser_model.json").read_text())
    config = json.loads((out / "ser_model.json").read_text())
    note = config.pop("quantization")
    assert config == source  # every other key kept
    assert note["ops"] == ["MatMul", "Gemm"] and "int8" in note["weights"] and len(note["source_sha256"]) == 64
    assert (out / "MODEL_CARD.md").read_text() == "card"

    import onnx

    signals = [real_speech(s, seed=i) for i, s in enumerate((0.6, 1.0, 1.7, 2.3))]
    stats = agreement(tiny_model_dir, out, signals)
    assert stats["clips"] == 4 and stats["max_prob_diff"] < 0.05
    with_convs = quantize_model(tiny_model_dir, tmp_path / "int8-convs", convolutions=True)
    ops = {n.op_type for n in onnx.load(str(with_convs / "model.onnx")).graph.node}
    assert "Conv" not in ops and ops & {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear"}
    assert agreement(tiny_model_dir, with_convs, signals)["max_prob_diff"] < 0.05
    assert np.allclose(load_model(out).predict_proba(signals).sum(1), 1, atol=1e-5)


def test_deterministic_and_in_place(tiny_model_dir, tmp_path):
    a = quantize_model(tiny_model_dir, tmp_path / "a")
    b = quantize_model(tiny_model_dir, tmp_path / "b")
    assert (a / "model.onnx").read_bytes() == (b / "model.onnx").read_bytes()
    assert (a / "ser_model.json").read_text() == (b / "ser_model.json").read_text()

    folder = tmp_path / "in-place"
    shutil.copytree(tiny_model_dir, folder)
    quantize_model(folder, folder)
    assert (folder / "model.onnx").read_bytes() == (a / "model.onnx").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left
    with pytest.raises(ModelError, match="already quantised"):
        quantize_model(folder, tmp_path / "twice")


def test_bad_folders(tmp_path, tiny_model_dir):
    with pytest.raises(ModelError, match="no such model folder"):
        quantize_model(tmp_path / "none", tmp_path / "out")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.onnx").unlink()
    with pytest.raises(ModelError, match="missing"):
        quantize_model(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli(tiny_model_dir, tmp_path, capsys):
    from ser.export.quantize import main

    assert main([str(tiny_model_dir), str(tmp_path / "q")]) == 0
    assert "wrote" in capsys.readouterr().err
    assert main([str(tmp_path / "none"), str(tmp_path / "q2")]) == 2
    assert "no such model folder" in capsys.readouterr().err


def test_first_layers_attention_stays_float(tmp_path):
    import onnx
    import torch

    from ser.models.encoders import WhisperEncoder, WhisperEncoderConfig
    from ser.export.onnx import PooledWhisper

    torch.manual_seed(0)
    config = WhisperEncoderConfig(d_model=16, n_layers=4, n_heads=2, ffn_dim=32)
    pooled = PooledWhisper(WhisperEncoder(config).eval(), (1, 2, 3, 4), ("mean", "std")).eval()
    path = tmp_path / "pooled.onnx"
    from inference_helpers import _export

    _export(torch, pooled, path)
    from ser.export.quantize import nodes_to_quantize

    model = convolutions_as_matmul(onnx.load(str(path)))
    chosen = nodes_to_quantize(model)
    assert not [n for n in chosen if "layers.0/self_attn" in n or "layers.1/self_attn" in n]
    assert len([n for n in chosen if "layers.2/self_attn" in n or "layers.3/self_attn" in n]) == 8
    assert len([n for n in chosen if "/fc1/" in n or "/fc2/" in n]) == 8
    assert len([n for n in chosen if "im2col" in n]) == 2
    assert len(nodes_to_quantize(model, float_attention=0.0)) == len(chosen) + 8
    assert len(nodes_to_quantize(model, float_attention=0.25)) == len(chosen) + 4  # layer 0 stays float


def _pooled_whisper(tmp_path, seed: int = 0):
    import torch

    from inference_helpers import _export
    from ser.models.encoders import WhisperEncoder, WhisperEncoderConfig
    from ser.export.onnx import PooledWhisper

    torch.manual_seed(seed)
    config = WhisperEncoderConfig(d_model=16, n_layers=4, n_heads=2, ffn_dim=32)
    pooled = PooledWhisper(WhisperEncoder(config).eval(), (1, 2, 3, 4), ("mean", "std")).eval()
    with torch.no_grad():  # outlier channels, as trained transformers have, for smoothing to even out
        for layer in pooled.encoder.layers:
            layer.self_attn_layer_norm.weight[:2] *= 20
            layer.final_layer_norm.weight[:2] *= 20
    path = tmp_path / "pooled.onnx"
    _export(torch, pooled, path)
    return path


def test_smoothing_keeps_the_float_model_and_evens_out_the_activations(tmp_path):
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from ser.export.quantize import smooth_activations

    path = _pooled_whisper(tmp_path)
    rng = np.random.default_rng(0)
    features = [rng.standard_normal((1, 80, n)).astype(np.float32) for n in (40, 64, 101)]
    original = onnx.load(str(path))
    smoothed, count = smooth_activations(onnx.load(str(path)), features, alpha=0.65)
    assert count == 4 * (3 + 1 + 1)  # per layer: q, k, v after the norm; out_proj; fc1
    before = ort.InferenceSession(original.SerializeToString(), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(smoothed.SerializeToString(), providers=["CPUExecutionProvider"])
    for x in features + [rng.standard_normal((2, 80, 77)).astype(np.float32)]:
        a, b = before.run(None, {"input_features": x})[0], after.run(None, {"input_features": x})[0]
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    # The norms' scales are divided by s: the outlier channels shrink relative to the rest.
    norm = "encoder.layers.0.self_attn_layer_norm.weight"
    w0 = {t.name: numpy_helper.to_array(t) for t in original.graph.initializer}[norm]
    w1 = {t.name: numpy_helper.to_array(t) for t in smoothed.graph.initializer}[norm]
    assert np.abs(w1).max() / np.median(np.abs(w1)) < np.abs(w0).max() / np.median(np.abs(w0))
    with pytest.raises(ValueError, match="alpha"):
        smooth_activations(onnx.load(str(path)), features, alpha=1.5)


def test_quantising_with_calibration(tiny_model_dir, tmp_path):
    signals = [real_speech(s, seed=i) for i, s in enumerate((0.6, 1.0, 1.7, 2.3))]
    out = quantize_model(tiny_model_dir, tmp_path / "int8", calibration=signals[:2])
    note = json.loads((out / "ser_model.json").read_text())["quantization"]
    assert note["smoothing"]["calibration_clips"] == 2
    assert agreement(tiny_model_dir, out, signals)["max_prob_diff"] < 0.05
    again = quantize_model(tiny_model_dir, tmp_path / "again", calibration=signals[:2])
    assert (again / "model.onnx").read_bytes() == (out / "model.onnx").read_bytes()


def test_cli_with_calibration(tiny_model_dir, tmp_path, capsys):
    import soundfile as sf

    from ser.export.quantize import main

    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(3):
        sf.write(clips / f"{i}.wav", real_speech(1.0, seed=i), 16000)
    assert main([str(tiny_model_dir), str(tmp_path / "q"), "--calibration", str(clips)]) == 0
    assert json.loads((tmp_path / "q" / "ser_model.json").read_text())["quantization"]["smoothing"]["calibration_clips"] == 3
    assert main([str(tiny_model_dir), str(tmp_path / "q2"), "--calibration", str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err


def test_an_empty_calibration_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="at least one clip"):
        quantize_model(tiny_model_dir, tmp_path / "q", calibration=[])
    assert not (tmp_path / "q").exists()
