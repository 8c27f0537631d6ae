"""The model registry and the shared interface: shapes, padding, errors, classic probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ser.errors import SerError
from ser.models import MODELS, build_model, hyperparameters, input_kind, names

FRAME_MODELS = [n for n in names() if input_kind(n) == "frames"]
SMALL = {"cnn": {"channels": 8}, "cnn2d": {"channels": 4}, "lstm": {"hidden": 16}, "bilstm": {"hidden": 16},
         "gru": {"hidden": 16}, "clstm": {"channels": 8, "hidden": 16}, "transformer": {"d_model": 16, "heads": 2}}


def test_registry_lists_every_issue_model():
    assert {"cnn", "cnn2d", "lstm", "bilstm", "gru", "clstm", "transformer", "svm", "mlp", "logreg"} <= set(MODELS)
    assert input_kind("svm") == "pooled" and input_kind("clstm") == "frames"


@pytest.mark.parametrize("name", FRAME_MODELS)
def test_frame_model_ignores_padding(name):
    torch.manual_seed(0)
    model = build_model(name, 24, 5, **SMALL[name]).eval()
    assert model.input_kind == "frames"
    x = torch.randn(3, 40, 24)
    lengths = torch.tensor([40, 17, 9])
    with torch.no_grad():
        batch = model(x, lengths)
        assert batch.shape == (3, 5)
        # Each clip alone, without padding, gets the logits it got inside the padded batch.
        for i in (1, 2):
            alone = model(x[i : i + 1, : lengths[i]], lengths[i : i + 1])
            torch.testing.assert_close(alone[0], batch[i], atol=1e-5, rtol=1e-4)
        # Whatever sits in the padding does not matter.
        noisy = x.clone()
        noisy[1, 17:] = 100.0
        torch.testing.assert_close(model(noisy, lengths), batch, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", FRAME_MODELS)
def test_frame_model_takes_very_short_clips(name):
    model = build_model(name, 16, 3, **SMALL[name]).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 2, 16), torch.tensor([2, 1])).shape == (2, 3)


def test_unknown_model_and_hyperparameter_are_clear_errors():
    with pytest.raises(SerError, match="unknown model 'resnet'.*cnn"):
        build_model("resnet", 10, 3)
    with pytest.raises(SerError, match="lstm.*no hyperparameter.*channels.*takes"):
        build_model("lstm", 10, 3, channels=8)
    with pytest.raises(SerError, match="at least 2 classes"):
        build_model("svm", 10, 1)
    assert "hidden" in hyperparameters("lstm")


@pytest.mark.parametrize("name", ["svm", "mlp", "logreg"])
def test_classic_model_covers_every_class(name):
    rng = np.random.default_rng(0)
    # Four classes declared, class 3 never seen in training: it still gets a (zero) column.
    y = np.repeat([0, 1, 2], 12)
    x = rng.normal(size=(36, 6)) + y[:, None] * 2.0
    hp = {"hidden": (16,), "max_iter": 1000, "lr": 1e-2} if name == "mlp" else {}
    model = build_model(name, 6, 4, **hp).fit(x, y)
    proba = model.predict_proba(x)
    assert model.input_kind == "pooled"
    assert proba.shape == (36, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(proba[:, 3] == 0)
    assert (model.predict(x) == y).mean() > 0.9  # well-separated blobs
    with pytest.raises(ValueError, match="shape"):
        model.predict_proba(x[:, :5])


def test_bilstm_is_the_packed_bidirectional_lstm():
    # The per-direction layers compute what nn.LSTM(bidirectional=True) computes on a packed batch.
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    model = build_model("bilstm", 6, 3, hidden=5, layers=2).eval()
    reference = torch.nn.LSTM(6, 5, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for layer, (ahead, back) in enumerate(zip(model.forward_layers, model.backward_layers)):
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(reference, f"{kind}_l{layer}").copy_(getattr(ahead, f"{kind}_l0"))
                getattr(reference, f"{kind}_l{layer}_reverse").copy_(getattr(back, f"{kind}_l0"))
        x, lengths = torch.randn(3, 11, 6), torch.tensor([11, 7, 2])
        packed, _ = reference(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        expected, _ = pad_packed_sequence(packed, batch_first=True, total_length=11)
        got = model.encode(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(got[i, :n], expected[i, :n], atol=1e-6, rtol=1e-5)
