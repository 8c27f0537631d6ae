"""Many clips spread over worker threads give the same probabilities as one thread, in order."""

from __future__ import annotations

import numpy as np

from inference_helpers import real_speech
from ser.model_folder import load_model


def test_parallel_batches_equal_one_thread(tiny_model_dir):
    # Mixed lengths (several frame counts), repeated lengths (shared calls), a short and a long clip.
    lengths = [0.05, 0.7, 1.3, 1.3, 1.3, 2.0, 0.7, 31.5, 1.3, 3.1]
    signals = [real_speech(s, seed=i) for i, s in enumerate(lengths)]
    one = load_model(tiny_model_dir, threads=1).predict_proba(signals)
    many = load_model(tiny_model_dir, threads=3)
    parallel = many.predict_proba(signals)
    np.testing.assert_allclose(parallel, one, atol=1e-6)
    # Each clip alone gives its own row: nothing leaks between clips of a shared call.
    for signal, row in zip(signals, parallel):
        np.testing.assert_allclose(many.predict_proba([signal])[0], row, atol=1e-6)
