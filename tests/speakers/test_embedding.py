"""The ONNX voice encoder and its numpy front end against Resemblyzer, and its behaviour on real voices."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest

from ser.errors import ModelError
from ser.speakers import SpeakerError, VoiceEncoder
from ser.speakers.embedding import PARTIAL_S, mel_power, normalize_volume, partial_starts
from speaker_helpers import ACTORS, example, voice


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder.from_pretrained(threads=1)


def _resemblyzer():
    """Resemblyzer's own module, or a skip. Its __init__ imports webrtcvad, whose module needs
    setuptools' pkg_resources (gone from new virtual environments); its silence trimming is the
    only user, and it is not compared here, so a stand-in module is enough."""
    if importlib.util.find_spec("resemblyzer") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("resemblyzer or torch not installed (pip install -e '.[train,dev]')")
    try:
        import webrtcvad  # noqa: F401
    except ImportError:
        sys.modules["webrtcvad"] = types.ModuleType("webrtcvad")
    import resemblyzer

    return resemblyzer


def test_mel_front_end_equals_resemblyzers():
    resemblyzer = _resemblyzer()
    for stem in ACTORS:
        signal = example(stem)
        reference = resemblyzer.wav_to_mel_spectrogram(signal)
        ours = mel_power(signal)
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6 * reference.max())


def test_onnx_embeddings_equal_torch_resemblyzer(encoder):
    resemblyzer = _resemblyzer()
    reference = resemblyzer.VoiceEncoder(device="cpu", verbose=False)
    quiet = 0.01 * voice(3)  # about -50 dBFS: raised to -30 dBFS by both
    for signal in [example(stem) for stem in ACTORS] + [quiet, voice(2)[:8000]]:
        expected = reference.embed_utterance(resemblyzer.normalize_volume(signal, -30, increase_only=True))
        np.testing.assert_allclose(encoder.embed(signal), expected, atol=2e-5)


def test_onnx_graph_equals_torch_network_on_any_frames(encoder):
    _resemblyzer()
    import torch

    from ser.speakers.export import resemblyzer_weights, torch_encoder

    network = torch_encoder(resemblyzer_weights())
    mels = np.random.default_rng(0).random((3, 90, 40), dtype=np.float32)
    with torch.no_grad():
        expected = network(torch.from_numpy(mels)).numpy()
    np.testing.assert_allclose(encoder.embed_mels(mels), expected, atol=2e-5)


def test_embedding_is_unit_nonnegative_and_deterministic(encoder):
    signal = voice(10)
    a, b = encoder.embed(signal), encoder.embed(signal.copy())
    assert a.shape == (256,) and a.dtype == np.float32
    assert abs(float(np.linalg.norm(a)) - 1) < 1e-5 and (a >= 0).all()
    np.testing.assert_array_equal(a, b)


def test_voices_are_told_apart(encoder):
    # Halves (about 1 s each) of the six example clips: actors 2, 4 and 10 are women, 3, 5, 7 men.
    # A half is on average nearer its own other half than another actor's, and two groups split
    # the women from the men. (Single 1 s halves are too short to always pick out their actor.)
    from ser.speakers import group_by_voice

    actors = sorted(ACTORS.values())
    halves = []
    for actor in actors:
        signal = voice(actor)
        halves += [signal[: signal.shape[0] // 2], signal[signal.shape[0] // 2 :]]
    embeddings = encoder.embed_batch(halves)
    similarity = embeddings @ embeddings.T
    owner = np.repeat(np.arange(len(actors)), 2)
    same = similarity[(owner[:, None] == owner[None, :]) & ~np.eye(len(halves), dtype=bool)].mean()
    other = similarity[owner[:, None] != owner[None, :]].mean()
    assert same > other + 0.1
    groups = group_by_voice(embeddings, n_groups=2).labels
    female = np.repeat([actor % 2 == 0 for actor in actors], 2)
    assert len(set(groups[female].tolist())) == 1 and len(set(groups[~female].tolist())) == 1
    assert groups[female][0] != groups[~female][0]


def test_quiet_signal_is_raised_to_the_same_embedding(encoder):
    signal = voice(5)
    signal = signal * (10 ** (-35 / 20) / np.sqrt(np.mean(signal**2)))  # -35 dBFS
    np.testing.assert_allclose(encoder.embed(signal), encoder.embed(0.1 * signal), atol=1e-5)
    assert normalize_volume(np.zeros(100, np.float32)).max() == 0  # silence stays silence


def test_embed_batch_equals_embed_one_by_one(encoder):
    signals = [voice(2), voice(3)[:5000], voice(7)]
    batch = encoder.embed_batch(signals)
    for signal, row in zip(signals, batch):
        np.testing.assert_allclose(row, encoder.embed(signal), atol=1e-6)


def test_partials_follow_resemblyzer_rule():
    assert partial_starts(8000) == [0]  # shorter than one partial: one, zero-padded
    assert partial_starts(int(1.6 * 16000)) == [0]  # the second would be half padding
    assert partial_starts(int(2.5 * 16000)) == [0, 77]


def test_windows_cover_the_signal(encoder):
    signal = np.concatenate([voice(3), voice(4)])
    # RMS -20 dBFS, and no 1.6 s stretch below -30 dBFS: nothing is rescaled, so a window = its clip.
    loud = signal * (0.1 / np.sqrt(np.mean(signal**2)))
    times, embeddings = encoder.embed_windows(loud, window_s=PARTIAL_S, hop_s=0.8)
    assert embeddings.shape == (times.shape[0], 256) and times.shape[1] == 2
    assert times[0, 0] == 0 and times[-1, 1] == pytest.approx(loud.shape[0] / 16000)
    np.testing.assert_allclose(np.diff(times[:-1, 0]), 0.8)
    # The first window is the first 1.6 s (its last mel frame also sees the next 12 ms).
    first = encoder.embed(loud[: int(PARTIAL_S * 16000)])
    assert float(embeddings[0] @ first) > 0.999
    # A longer window averages its partials: 3.2 s windows every 1.6 s.
    times, embeddings = encoder.embed_windows(loud, window_s=3.2, hop_s=1.6)
    assert np.allclose(times[:, 1] - times[:, 0], 3.2)
    short_times, short = encoder.embed_windows(loud[:4000])
    assert short.shape == (1, 256) and short_times.tolist() == [[0.0, 0.25]]


@pytest.mark.parametrize("bad", [np.zeros((2, 100), np.float32), np.zeros(0, np.float32), np.array([0.1, np.nan], np.float32)])
def test_bad_signal_is_a_clear_error(encoder, bad):
    with pytest.raises(SpeakerError, match="signal"):
        encoder.embed(bad)


def test_bad_window_is_a_clear_error(encoder):
    with pytest.raises(SpeakerError, match="hop_s"):
        encoder.embed_windows(voice(2), hop_s=0)


def test_missing_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        VoiceEncoder(tmp_path / "nothing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="bad.onnx"):
        VoiceEncoder(tmp_path / "bad.onnx")
