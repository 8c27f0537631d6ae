"""group_by_voice: the numpy average linkage against scipy's, counts, weights and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ser.speakers import SpeakerError, group_by_voice
from ser.speakers.clustering import average_linkage, cosine_distances


def _blobs(n: int, k: int, seed: int, spread: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.abs(rng.standard_normal((k, 32)))
    truth = rng.integers(0, k, n)
    return np.abs(centres[truth] + spread * rng.standard_normal((n, 32))), truth


def _same_partition(a, b) -> bool:
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("seed", range(8))
def test_average_linkage_equals_scipys(seed):
    hierarchy = pytest.importorskip("scipy.cluster.hierarchy", reason="scipy is the reference (train extra)")
    from scipy.spatial.distance import pdist

    x, _ = _blobs(5 + 7 * seed, 4, seed, spread=0.6)
    reference = hierarchy.linkage(pdist(x, "cosine"), "average")
    np.testing.assert_allclose(average_linkage(cosine_distances(x))[:, 2], np.sort(reference[:, 2]), atol=1e-9)
    for t in (0.05, 0.1, 0.2):
        assert _same_partition(group_by_voice(x, t).labels, hierarchy.fcluster(reference, t, "distance"))
    for k in (1, 2, 3):
        assert _same_partition(group_by_voice(x, n_groups=k).labels, hierarchy.fcluster(reference, k, "maxclust"))


def test_separated_voices_are_found_and_numbered_by_first_appearance():
    x, truth = _blobs(40, 3, seed=1, spread=0.1)
    grouping = group_by_voice(x, threshold=0.2)
    assert grouping.n_groups == grouping.n_found == 3
    assert _same_partition(grouping.labels, truth)
    assert grouping.labels[0] == 0 and sorted(set(grouping.labels.tolist())) == [0, 1, 2]
    first_seen = [int(np.flatnonzero(grouping.labels == g)[0]) for g in range(3)]
    assert first_seen == sorted(first_seen)


def test_forced_count_reports_what_the_threshold_found():
    x, _ = _blobs(30, 2, seed=2, spread=0.1)
    more = group_by_voice(x, threshold=0.2, n_groups=3)
    assert more.n_groups == 3 and more.n_found == 2 and len(set(more.labels.tolist())) == 3
    fewer = group_by_voice(x, threshold=0.2, n_groups=1)
    assert fewer.n_groups == 1 and fewer.n_found == 2 and set(fewer.labels.tolist()) == {0}
    capped = group_by_voice(x[:2], n_groups=5)
    assert capped.n_groups == 2


def test_one_embedding_is_one_group():
    grouping = group_by_voice(np.ones((1, 8)))
    assert grouping.labels.tolist() == [0] and grouping.n_groups == grouping.n_found == 1


def test_weights_count_members_in_the_mean_distance():
    # Items 0 and 1 are identical; weighting item 1 heavily equals repeating it.
    x, _ = _blobs(6, 2, seed=3, spread=0.5)
    x[1] = x[0]
    heavy = average_linkage(cosine_distances(x), np.array([1, 3, 1, 1, 1, 1.0]))
    repeated = np.vstack([x, x[1], x[1]])
    np.testing.assert_allclose(heavy[1:, 2], average_linkage(cosine_distances(repeated))[3:, 2], atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"embeddings": np.zeros((0, 4))}, "non-empty"),
        ({"embeddings": np.zeros(4)}, "non-empty"),
        ({"embeddings": np.array([[np.nan, 1.0]])}, "NaN"),
        ({"embeddings": np.ones((3, 4)), "threshold": 0}, "threshold"),
        ({"embeddings": np.ones((3, 4)), "n_groups": 0}, "n_groups"),
        ({"embeddings": np.ones((3, 4)), "n_groups": 1.5}, "n_groups"),
        ({"embeddings": np.ones((3, 4)), "weights": np.ones(2)}, "weights"),
        ({"embeddings": np.ones((3, 4)), "weights": np.array([1, 0, 1.0])}, "weights"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message):
    with pytest.raises(SpeakerError, match=message):
        group_by_voice(**kwargs)


def test_group_clips_puts_each_voice_together():
    from ser.speakers import group_clips
    from speaker_helpers import voice

    # Two clips of each of two actors (a man and a woman): halves of their example clips.
    clips = []
    for actor in (3, 10):
        signal = voice(actor)
        clips += [signal[: signal.shape[0] // 2], signal[signal.shape[0] // 2 :]]
    grouping = group_clips(clips)
    assert grouping.labels.tolist() == [0, 0, 1, 1]
    with pytest.raises(SpeakerError, match="no clips"):
        group_clips([])
