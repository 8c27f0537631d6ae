"""The default recipe's export: one ONNX graph that matches the PyTorch model and loads in ser."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ser.export.onnx import DefaultModel, PooledWhisper, export_default
from ser.models.encoders import WhisperEncoder, WhisperEncoderConfig
from ser.training.default_model import (
    DefaultRecipe,
    expected_calibration_error,
    fit_temperature,
    make_head,
    select_features,
    softmax,
)

CONFIG = {"num_mel_bins": 80, "d_model": 16, "encoder_layers": 4, "encoder_attention_heads": 2,
          "encoder_ffn_dim": 32, "max_source_positions": 1500}


@pytest.fixture
def tiny_encoder_dir(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    encoder = WhisperEncoder(WhisperEncoderConfig.from_hf(CONFIG))
    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, str(folder / "model.safetensors"))
    return folder


def test_select_features_matches_pooled_layout(tiny_encoder_dir):
    from ser.models.encoders import load_whisper_encoder

    encoder = load_whisper_encoder(tiny_encoder_dir)
    features = torch.randn(2, 80, 120)
    with torch.no_grad():
        all_layers = PooledWhisper(encoder, (0, 1, 2, 3, 4), ("mean", "std"))(features).numpy()
        chosen = PooledWhisper(encoder, (1, 2, 3, 4), ("mean", "std"))(features).numpy()
    cached = all_layers.reshape(2, 2, 5, -1)  # [clips, stats, layers, dims]
    np.testing.assert_allclose(select_features(cached, (1, 2, 3, 4), ("mean", "std")), chosen, atol=1e-6)


def test_exported_graph_matches_torch_and_loads_in_ser(tiny_encoder_dir, tmp_path):
    from ser.model_folder import load_model
    from ser.models.encoders import load_whisper_encoder

    rng = np.random.default_rng(0)
    labels = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    x = rng.standard_normal((70, 4 * 16 * 2)).astype(np.float32)
    y = np.arange(70) % 7
    head = make_head(0.1).fit(x, y)
    recipe = DefaultRecipe(encoder=str(tiny_encoder_dir))
    out = export_default(recipe, head, labels, 1.5, {"note": "test"}, tmp_path / "model")

    config = json.loads((out / "ser_model.json").read_text())
    assert config["labels"] == labels and config["temperature"] == 1.5

    # The folded scaler + linear layer give the sklearn head's logits on the same pooled features.
    pooled = PooledWhisper(load_whisper_encoder(tiny_encoder_dir)).eval()
    model = DefaultModel(pooled, head[0].mean_, head[0].scale_, head[-1].coef_, head[-1].intercept_).eval()
    features = torch.randn(3, 80, 250)
    with torch.no_grad():
        torch.testing.assert_close(model.head(pooled(features)).numpy(),
                                   head.decision_function(pooled(features).numpy()).astype(np.float32),
                                   atol=1e-3, rtol=1e-3)

    import onnxruntime

    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    for frames in (160, 250, 999):
        features = torch.randn(2, 80, frames)
        with torch.no_grad():
            expected = model(features).numpy()
        got = session.run(["logits"], {"input_features": features.numpy()})[0]
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)

    backend = load_model(out)
    probabilities = backend.predict_proba([rng.standard_normal(16000).astype(np.float32) * 0.1])
    assert probabilities.shape == (1, 7)
    assert abs(probabilities.sum() - 1) < 1e-5


def test_temperature_lowers_overconfidence():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4000, 3)) * 1.5  # calibrated by construction: y drawn from them
    y = np.array([rng.choice(3, p=p) for p in softmax(logits)])
    overconfident = logits * 4
    temperature = fit_temperature(overconfident, y)
    assert 3 < temperature < 5
    assert expected_calibration_error(softmax(overconfident / temperature), y) < expected_calibration_error(softmax(overconfident), y)


def tiny_ravdess(tmp_path, encoder_dir, extra: str = ""):
    """A 4-actor RAVDESS-named corpus of tones under tmp_path/data and a recipe file for it."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    root = tmp_path / "data" / "RAVDESS"
    for actor in (1, 2, 3, 4):
        (root / f"Actor_{actor:02d}").mkdir(parents=True)
        for emotion in range(1, 9):
            for statement in (1, 2):
                t = np.arange(8000) / 16000
                clip = 0.2 * np.sin(2 * np.pi * (100 + 40 * emotion) * t) + 0.01 * rng.standard_normal(8000)
                name = f"03-01-{emotion:02d}-01-{statement:02d}-01-{actor:02d}.wav"
                sf.write(root / f"Actor_{actor:02d}" / name, clip.astype(np.float32), 16000)
    config = tmp_path / "recipe.yaml"
    config.write_text(
        f"encoder: {encoder_dir}\ndatasets: {tmp_path / 'data'}\ncorpora: {{ravdess: RAVDESS}}\n"
        f"c_grid: [0.1]\ncalibration_speakers: 0.25\ncache_dir: {tmp_path / 'cache'}\n{extra}"
    )
    return root, config


def test_train_default_command_end_to_end(tiny_encoder_dir, tmp_path, capsys):
    """`ser train-default` on a tiny RAVDESS-named corpus: features, head, calibration, ONNX, int8, card kept."""
    from ser.cli.main import main
    from ser.inference.recognizer import Recognizer

    root, config = tiny_ravdess(tmp_path, tiny_encoder_dir)
    out = tmp_path / "model"
    out.mkdir()
    (out / "MODEL_CARD.md").write_text("# card\n")
    float_out = tmp_path / "float"
    assert main(["train-default", "--config", str(config), "-o", str(out), "--float-output", str(float_out)]) == 0
    written = json.loads((out / "ser_model.json").read_text())
    assert written["quantization"]["method"].startswith("onnxruntime dynamic int8")
    assert written["training"]["speakers"] == [f"ravdess_{a:02d}" for a in (1, 2, 3, 4)]
    assert (out / "MODEL_CARD.md").read_text() == "# card\n"
    assert (float_out / "model.onnx").is_file()
    prediction = Recognizer.from_pretrained(out, vad=False)(root / "Actor_01" / "03-01-05-01-01-01-01.wav")
    assert prediction.label in written["labels"] and sum(prediction.scores.values()) == pytest.approx(1, abs=1e-4)


def test_train_default_with_the_top_layer_fine_tuned(tiny_encoder_dir, tmp_path):
    """finetune_layers: 1 trains through the shared Trainer (checkpoints), on the clips and their
    augmented copies, and exports the fine-tuned graph."""
    import soundfile as sf

    from ser.cli.main import main
    from ser.inference.recognizer import Recognizer

    rng = np.random.default_rng(1)
    root = tmp_path / "data" / "RAVDESS"
    for actor in (1, 2, 3, 4, 5):
        (root / f"Actor_{actor:02d}").mkdir(parents=True)
        for emotion in range(1, 9):
            t = np.arange(6400) / 16000
            clip = 0.2 * np.sin(2 * np.pi * (100 + 40 * emotion) * t) + 0.01 * rng.standard_normal(6400)
            sf.write(root / f"Actor_{actor:02d}" / f"03-01-{emotion:02d}-01-01-01-{actor:02d}.wav", clip.astype(np.float32), 16000)
    config = tmp_path / "recipe.yaml"
    config.write_text(
        f"encoder: {tiny_encoder_dir}\ndatasets: {tmp_path / 'data'}\ncorpora: {{ravdess: RAVDESS}}\n"
        f"c_grid: [0.1]\ncalibration_speakers: 0.4\ncache_dir: {tmp_path / 'cache'}\n"
        "finetune_layers: 1\nfinetune_epochs: 2\nbatch_size: 8\naugmented_copies: 1\n"
    )
    out = tmp_path / "model"
    assert main(["train-default", "--config", str(config), "-o", str(out), "--no-quantize"]) == 0
    written = json.loads((out / "ser_model.json").read_text())
    assert written["metrics"]["finetuned_layers"] == 1
    [run] = list((tmp_path / "cache").glob("finetune-*"))
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    [copies] = list((tmp_path / "cache").glob("whisper-tiny-en-states-f16-v1-copy1-*"))
    assert len([p for p in copies.rglob("*") if p.is_file()]) >= 40  # every clip's augmented states
    prediction = Recognizer.from_pretrained(out, vad=False)(root / "Actor_01" / "03-01-05-01-01-01-01.wav")
    assert sum(prediction.scores.values()) == pytest.approx(1, abs=1e-4)


def test_a_fine_tuned_network_exports_to_the_same_logits(tiny_encoder_dir, tmp_path):
    from ser.model_folder import load_model
    from ser.models.encoders import load_whisper_encoder
    from ser.models.heads import WhisperEmotion

    torch.manual_seed(0)
    net = WhisperEmotion(load_whisper_encoder(tiny_encoder_dir), 7, trainable_layers=1, head="stats").eval()
    net.head.set_probe(torch.randn(128) * 0.1, torch.rand(128) + 0.5, torch.randn(7, 128), torch.randn(7))
    recipe = DefaultRecipe(encoder=str(tiny_encoder_dir))
    out = export_default(recipe, None, list(LABELS7), 1.0, {}, tmp_path / "ft", model=net)
    backend = load_model(out)
    features = torch.randn(1, 80, 230)
    with torch.no_grad():
        expected = net(features).numpy()
    np.testing.assert_allclose(backend._run(features.numpy()), expected, rtol=1e-4, atol=1e-4)


LABELS7 = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")


def test_augmented_copies_are_deterministic_and_train_the_head(tiny_encoder_dir, tmp_path):
    """augmented_copies: 1 pools an augmented version of every clip (the same one on every run) and trains on it."""
    from ser.training.default_model import build_manifest, pooled_features, train_default

    _, config = tiny_ravdess(tmp_path, tiny_encoder_dir, "augmented_copies: 1\nc_grid: [0.01, 0.1]\n")
    recipe = DefaultRecipe.from_yaml(config)
    rows = build_manifest(recipe)
    original = pooled_features(rows, recipe, progress=False)
    copy = pooled_features(rows, recipe, copy=1, progress=False)
    assert copy.shape == original.shape and not np.allclose(copy, original)
    # A second computation (no cache) gives the same augmented copy.
    recipe.cache_dir = str(tmp_path / "other-cache")
    np.testing.assert_allclose(pooled_features(rows, recipe, copy=1, progress=False), copy, atol=1e-5)

    out = train_default(recipe, tmp_path / "model", log=lambda _: None)
    metrics = json.loads((out / "ser_model.json").read_text())["metrics"]
    assert metrics["augmented_copies"] == 1 and metrics["training_clips"] == len(rows)


def test_with_copies_appends_the_copies_of_the_chosen_rows_only():
    from ser.training.default_model import with_copies

    x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    copies = np.stack([x + 100, x + 200])
    got_x, got_y = with_copies(x, y, np.array([1, 3]), copies)
    np.testing.assert_array_equal(got_x, [[2, 3], [6, 7], [102, 103], [106, 107], [202, 203], [206, 207]])
    np.testing.assert_array_equal(got_y, [1, 3, 1, 3, 1, 3])
    np.testing.assert_array_equal(with_copies(x, y, [0], None)[0], x[[0]])


def test_a_bad_augmented_copies_value_is_a_clear_error(tmp_path):
    from ser.errors import SerError

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("augmented_copies: two\n")
    with pytest.raises(SerError, match="augmented_copies must be a whole number"):
        DefaultRecipe.from_yaml(recipe)
