"""load_model and OnnxBackend: the contract's checks, padding, windowing, batching, temperature."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from inference_helpers import LABELS, export_tiny, real_speech, write_config
from ser.errors import ModelError
from ser.features.logmel import log_mel_spectrogram
from ser.inference.backends import OnnxBackend, softmax, split_evenly
from ser.model_folder import load_model


def test_loads_contract_model(tiny_model_dir):
    backend = load_model(tiny_model_dir)
    assert isinstance(backend, OnnxBackend)
    assert backend.labels == LABELS
    probs = backend.predict_proba([real_speech(1.0), real_speech(2.5, seed=1)])
    assert probs.shape == (2, len(LABELS)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_matches_direct_onnx_run(tiny_model_dir):
    backend = load_model(tiny_model_dir)
    signal = real_speech(1.3, seed=2)
    logits = backend.session.run(None, {"input_features": log_mel_spectrogram(signal)[None]})[0]
    np.testing.assert_allclose(backend.predict_proba([signal])[0], softmax(logits)[0], atol=1e-6)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: (d / "ser_model.json").unlink(), "no ser_model.json"),
        (lambda d: (d / "ser_model.json").write_text("{not json"), "invalid JSON"),
        (lambda d: (d / "ser_model.json").write_text("[1, 2]"), "expected a JSON object"),
        (lambda d: write_config(d, format="ser-model/9"), "unknown model format"),
        (lambda d: write_config(d, backend="tensorflow"), "unknown backend 'tensorflow'"),
        (lambda d: (d / "model.onnx").unlink(), "model.onnx named in ser_model.json is missing"),
        (lambda d: (d / "model.onnx").write_bytes(b"garbage"), "onnxruntime cannot load it"),
        (lambda d: write_config(d, labels=LABELS[:5]), "names 5 labels but the graph outputs 7 scores"),
        (lambda d: write_config(d, labels=["a"]), "at least two"),
        (lambda d: write_config(d, sample_rate=8000), "sample_rate must be 16000"),
        (lambda d: write_config(d, onnx={"file": "model.onnx", "input": "x", "output": "logits"}), "no input named 'x'"),
        (lambda d: write_config(d, frontend={"kind": "mfcc"}), "unknown front end"),
        (lambda d: write_config(d, max_frames="3000"), "'max_frames' must be a number"),
        (lambda d: write_config(d, max_frames=0), "must be positive"),
    ],
)
def test_model_errors(model_copy, breakage, message):
    breakage(model_copy)
    with pytest.raises(ModelError, match=message):
        load_model(model_copy)


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(ModelError, match="no such model folder"):
        load_model(tmp_path / "nope")
    (tmp_path / "file.onnx").write_bytes(b"x")
    with pytest.raises(ModelError, match="not a file"):
        load_model(tmp_path / "file.onnx")


def test_torch_backend_without_training_extra(model_copy, monkeypatch):
    write_config(model_copy, backend="torch")
    monkeypatch.setitem(sys.modules, "ser.training.checkpoint", None)  # import fails as without ser[train]
    with pytest.raises(ModelError, match=r"ser\[train\]"):
        load_model(model_copy)


def test_symbolic_class_axis_is_checked(tmp_path):
    # An output whose class axis is symbolic is checked by one run of the graph.
    import onnx

    export_tiny(tmp_path / "model.onnx")
    graph = onnx.load(str(tmp_path / "model.onnx"))
    graph.graph.output[0].type.tensor_type.shape.dim[1].dim_param = "classes"
    onnx.save(graph, str(tmp_path / "model.onnx"))
    write_config(tmp_path, labels=LABELS[:6])
    with pytest.raises(ModelError, match="outputs 7 scores"):
        load_model(tmp_path)


def test_short_signal_is_padded(tiny_model_dir):
    backend = load_model(tiny_model_dir)
    short = real_speech(0.01)
    padded = np.pad(short, (0, 1600 - short.shape[0]))
    np.testing.assert_allclose(backend.predict_proba([short]), backend.predict_proba([padded]), atol=1e-6)
    assert np.isfinite(backend.predict_proba([np.zeros(1, np.float32)])).all()


def test_long_signal_is_windowed_and_averaged(model_copy):
    write_config(model_copy, max_frames=100)  # windows of at most 1 s
    backend = load_model(model_copy)
    signal = real_speech(2.5, seed=3)
    spans = split_evenly(signal.shape[0], 16000)
    assert [b - a for a, b in spans] == [13333, 13334, 13333]
    parts = backend.predict_proba([signal[a:b] for a, b in spans])
    weights = np.array([b - a for a, b in spans], float)
    expected = (weights[:, None] * parts).sum(0) / weights.sum()
    np.testing.assert_allclose(backend.predict_proba([signal])[0], expected, atol=1e-6)


def test_batching_does_not_change_results(tiny_model_dir):
    backend = load_model(tiny_model_dir)
    signals = [real_speech(d, seed=i) for i, d in enumerate([1.0, 0.5, 1.0, 1.0, 2.0, 0.5, 1.0, 1.0])]
    together = backend.predict_proba(signals)
    alone = np.vstack([backend.predict_proba([s]) for s in signals])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_temperature(model_copy, tiny_model_dir):
    signal = real_speech(1.0)
    base = load_model(tiny_model_dir).predict_proba([signal])[0]
    write_config(model_copy, temperature=2.0)
    soft = load_model(model_copy).predict_proba([signal])[0]
    np.testing.assert_allclose(soft, softmax(np.log(base) / 2.0), atol=1e-5)
    assert soft.max() < base.max()
    write_config(model_copy, temperature=0)
    with pytest.raises(ModelError, match="temperature"):
        load_model(model_copy)


def test_config_is_exposed(tiny_model_dir):
    backend = load_model(tiny_model_dir)
    assert backend.config == json.loads((tiny_model_dir / "ser_model.json").read_text())
