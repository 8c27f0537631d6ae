"""The adaptable form of the default model: an embedding graph, a centred head, two temperatures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from test_default_export import tiny_encoder_dir, tiny_ravdess  # noqa: F401  (fixture and corpus maker)

from ser.errors import SerError
from ser.inference.head import CentredHead, speaker_centre
from ser.export.onnx import embeddings_of
from ser.training.default_model import DefaultRecipe, centre_speakers, group_means, profile_centres


def test_speaker_centre_shrinks_toward_the_population():
    population = np.zeros(3)
    clips = np.array([[3.0, 0, 0], [6.0, 0, 0]])
    np.testing.assert_allclose(speaker_centre(clips[:0], population, 2.0), population)  # n = 0: no context
    np.testing.assert_allclose(speaker_centre(clips[:1], population, 2.0), [1.0, 0, 0])  # a third of the way
    np.testing.assert_allclose(speaker_centre(clips, population, 2.0), [9.0 / 4, 0, 0])
    np.testing.assert_allclose(speaker_centre(np.tile(clips, (500, 1)), population, 2.0), [4.5, 0, 0], atol=0.01)


def test_class_balanced_means_ignore_how_many_clips_each_class_has():
    x = np.array([[0.0], [0.0], [0.0], [4.0]])
    y = np.array([0, 0, 0, 1])
    groups = np.array(["a"] * 4)
    assert group_means(x, groups)["a"][0] == 1.0
    assert group_means(x, groups, y)["a"][0] == 2.0
    centred, _, _ = centre_speakers(x, y, groups, balanced=True)
    np.testing.assert_allclose(centred[:, 0], [-2, -2, -2, 2])


def test_profiles_use_the_speakers_own_clips_only():
    x = np.array([[1.0], [3.0], [10.0], [30.0]])
    groups = np.array(["a", "a", "b", "b"])
    rng = np.random.default_rng(0)
    [all_clips] = profile_centres(x, groups, "all", np.zeros(1), 2.0, rng)
    np.testing.assert_allclose(all_clips[:, 0], [1, 1, 10, 10])  # (sum + 2 * 0) / (2 + 2)
    [single] = profile_centres(x, groups, "single", np.array([5.0]), 2.0, rng)
    np.testing.assert_allclose(single[:, 0], 5.0)
    assert profile_centres(x, groups, "n1", np.zeros(1), 2.0, rng, draws=3).shape == (3, 4, 1)


@pytest.mark.parametrize("text, message", [("centring: voice\n", "centring must be one of"),
                                           ("shrinkage: 0\n", "shrinkage must be a number > 0"),
                                           ("augmentation: studio\n", "augmentation must be one of"),
                                           ("centring: speaker\nfinetune_layers: 1\n", "cannot be combined")])
def test_bad_recipe_values_are_clear_errors(tmp_path, text, message):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    with pytest.raises(SerError, match=message):
        DefaultRecipe.from_yaml(recipe)


def test_train_default_with_centring_exports_the_contract(tiny_encoder_dir, tmp_path):  # noqa: F811
    """Graph -> embedding; head.npz -> logits; the folder's numbers reproduce the training head."""
    pytest.importorskip("onnx")
    from ser.export.quantize import quantize_model
    from ser.features.logmel import log_mel_spectrogram
    from ser.audio import load
    from ser.training.default_model import build_manifest, pooled_features, select_features, train_default

    root, config = tiny_ravdess(tmp_path, tiny_encoder_dir, "centring: speaker_mixed\nshrinkage: 2.0\nc_grid: [0.03, 0.1]\n")
    recipe = DefaultRecipe.from_yaml(config)
    out = train_default(recipe, tmp_path / "model", log=lambda _: None)
    written = json.loads((out / "ser_model.json").read_text())
    assert written["onnx"]["output"] == "embedding"
    assert written["head"] == {"file": "head.npz", "kind": "centred_linear"}
    adaptation = written["adaptation"]
    assert adaptation["kind"] == "speaker_centring" and adaptation["shrinkage"] == 2.0
    assert adaptation["temperature_adapted"] > 0 and written["temperature"] > 0
    assert written["metrics"]["calibration"]["temperature_adapted"] == adaptation["temperature_adapted"]

    with np.load(out / "head.npz") as arrays:
        head = CentredHead(**{name: arrays[name].astype(np.float64) for name in arrays.files})
    rows = build_manifest(recipe)
    x = select_features(pooled_features(rows, recipe, progress=False), recipe.layers, recipe.stats)
    groups = np.array([r.speaker for r in rows])
    # The population mean is the mean of the training speakers' means.
    np.testing.assert_allclose(head.population_mean, np.mean(list(group_means(x, groups).values()), axis=0), rtol=1e-4, atol=1e-5)
    features = [log_mel_spectrogram(load(r.path))[None] for r in rows[:6]]
    embeddings = embeddings_of(out, features)
    np.testing.assert_allclose(embeddings, x[:6], rtol=1e-3, atol=1e-4)  # the graph is the cached pooling
    # Adapted to actor 1 from its clips: the centre moves off the population mean, logits change.
    actor = x[groups == groups[0]]
    centre = speaker_centre(actor, head.population_mean, adaptation["shrinkage"])
    assert not np.allclose(head.logits(embeddings, centre), head.logits(embeddings))

    # The ONNX backend reads the folder to the same numbers, in both modes.
    from ser.model_folder import load_model

    backend = load_model(out)
    assert backend.can_adapt
    probs = backend.scores(embeddings, centre, adapted=True)
    expected = head.logits(embeddings, centre) / adaptation["temperature_adapted"]
    expected = np.exp(expected - expected.max(1, keepdims=True))
    np.testing.assert_allclose(probs, expected / expected.sum(1, keepdims=True), atol=1e-5)
    signals = [load(r.path) for r in rows[:3]]
    single = head.logits(backend.embed(signals)) / written["temperature"]
    np.testing.assert_array_equal(backend.predict_proba(signals).argmax(1), single.argmax(1))

    quantised = quantize_model(out, tmp_path / "int8")
    assert (quantised / "head.npz").read_bytes() == (out / "head.npz").read_bytes()
    q = embeddings_of(quantised, features)
    assert (head.logits(q).argmax(1) == head.logits(embeddings).argmax(1)).mean() >= 0.8


def test_mixed_training_holds_both_views_of_every_clip():
    from ser.training.default_model import centred_training

    x = np.array([[1.0], [3.0], [10.0], [30.0], [7.0]])
    y = np.array([0, 1, 0, 1, 0])
    groups = np.array(["a", "a", "b", "b", "c"])
    x_fit, y_fit, population = centred_training(x, y, groups, [0, 1, 2, 3], centring="speaker_mixed")
    assert population[0] == (2.0 + 20.0) / 2  # the mean of the training speakers' means; "c" is not one
    np.testing.assert_allclose(x_fit[:, 0], [-1, 1, -10, 10, 1 - 11, 3 - 11, 10 - 11, 30 - 11])
    np.testing.assert_array_equal(y_fit, [0, 1, 0, 1] * 2)


def test_single_copies_train_the_single_clip_view_only():
    from ser.training.default_model import centred_training

    x = np.array([[1.0], [3.0], [10.0], [30.0]])
    copies = x[None] + 100.0  # one augmented copy of every clip, shifted as a recording condition
    y = np.array([0, 1, 0, 1])
    groups = np.array(["a", "a", "b", "b"])
    x_fit, y_fit, population = centred_training(x, y, groups, np.arange(4), copies, "speaker_mixed_single_copies")
    assert population[0] == 11.0
    # the centred clips (no copies), then the clips and their copies less the population mean
    np.testing.assert_allclose(x_fit[:, 0], [-1, 1, -10, 10, -10, -8, -1, 19, 90, 92, 99, 119])
    np.testing.assert_array_equal(y_fit, [0, 1, 0, 1] * 3)
    both, _, _ = centred_training(x, y, groups, np.arange(4), copies, "speaker_mixed")
    assert len(both) == 16  # the shipped mode centres the copies too


def test_a_speaker_of_one_emotion_is_not_centred_on_itself():
    # "c" only ever sounds angry (label 2): its mean is that emotion, so its clips train as single
    # clips only (less the population mean) and its mean stays out of the population mean.
    from ser.training.default_model import centred_training, population_mean

    x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0], [50.0], [52.0]])
    y = np.array([0, 1, 2, 0, 1, 2, 2, 2])
    groups = np.array(["a", "a", "a", "b", "b", "b", "c", "c"])
    x_fit, y_fit, population = centred_training(x, y, groups, np.arange(8), centring="speaker_mixed")
    assert population[0] == (1.0 + 11.0) / 2 == population_mean(x, y, groups, np.arange(8), "speaker_mixed")[0]
    np.testing.assert_allclose(x_fit[:6, 0], [-1, 0, 1, -1, 0, 1])  # a and b less their own means
    np.testing.assert_allclose(x_fit[6:, 0], x[:, 0] - 6.0)  # every clip as a single clip
    np.testing.assert_array_equal(y_fit, np.concatenate([y[:6], y]))
    x_fit, y_fit, _ = centred_training(x, y, groups, np.arange(8), centring="speaker")
    np.testing.assert_allclose(x_fit[:, 0], [-1, 0, 1, -1, 0, 1, 44, 46])  # c only as single clips


def test_agreement_covers_the_adapted_mode(tiny_encoder_dir, tmp_path):  # noqa: F811
    pytest.importorskip("onnx")
    from ser.audio import load
    from ser.export.quantize import agreement, quantize_model
    from ser.training.default_model import build_manifest, train_default

    root, config = tiny_ravdess(tmp_path, tiny_encoder_dir, "centring: speaker_mixed\nc_grid: [0.1]\n")
    recipe = DefaultRecipe.from_yaml(config)
    out = train_default(recipe, tmp_path / "model", log=lambda _: None)
    rows = build_manifest(recipe)[:12]
    signals, groups = [load(r.path) for r in rows], [r.speaker for r in rows]
    same = agreement(out, out, signals, groups)
    assert same["agreement"] == same["agreement_adapted"] == 1.0 and same["max_prob_diff_adapted"] == 0.0
    quantised = quantize_model(out, tmp_path / "int8")
    result = agreement(out, quantised, signals, groups)
    assert 0.5 <= result["agreement_adapted"] <= 1.0 and result["clips"] == 12
