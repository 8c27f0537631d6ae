"""Many clips spread over worker threads give the same probabilities as one thread, in order."""

from __future__ import annotations

import numpy as np

from inference_helpers import speechlike
from ser.model_folder import load_model


def test_parallel_batches_equal_one_thread(tiny_model_dir):
    # Mixed lengths (several frame counts), repeated lengths (shared calls), a short and a long clip.
    lengths = [0.05, 0.7, 1.3, 1.3, 1.3, 2.0, 0.7, 31.5, 1.3, 3.1]
    signals = [speechlike(s, seed=i) for i, s in enumerate(lengths)]
    one = load_model(tiny_model_dir, threads=1, batch_size=2).predict_proba(signals)
    many = load_model(tiny_model_dir, threads=3, batch_size=2)
    parallel = many.predict_proba(signals)
    np.testing.assert_allclose(parallel, one, atol=1e-6)
    # Each clip alone gives its own row: nothing leaks between clips of a shared call.
    for signal, row in zip(signals, parallel):
        np.testing.assert_allclose(many.predict_proba([signal])[0], row, atol=1e-6)


def test_groups_cover_every_piece_once(tiny_model_dir):
    backend = load_model(tiny_model_dir, threads=2, batch_size=4)
    frames = [100, 100, 100, 100, 100, 100, 100, 50, 300, 50]
    groups = backend._groups(frames)
    assert sorted(i for g in groups for i in g) == list(range(len(frames)))
    assert all(len({frames[i] for i in g}) == 1 and len(g) <= 4 for g in groups)
    assert [len(g) for g in groups if frames[g[0]] == 100] == [4, 3]  # split so both cores work
