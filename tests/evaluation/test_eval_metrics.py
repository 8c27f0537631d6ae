"""ser.evaluation.metrics against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    recall_score,
)

from ser.evaluation.metrics import breakdown, classification_metrics, expected_calibration_error, normalise_rows

LABELS = ["neutral", "happy", "sad", "angry"]


def _random_labels(n, seed, labels=LABELS, p=None):
    rng = np.random.default_rng(seed)
    return [str(x) for x in rng.choice(labels, size=n, p=p)]


def test_hand_computed_example():
    y_true = ["sad", "sad", "sad", "sad", "angry", "angry"]
    y_pred = ["sad", "sad", "sad", "angry", "angry", "sad"]
    m = classification_metrics(y_true, y_pred, ["angry", "sad"])
    # recall sad 3/4, angry 1/2 -> UA 0.625; 4 of 6 right -> WA 0.667
    assert m["ua"] == pytest.approx(0.625)
    assert m["wa"] == pytest.approx(4 / 6)
    # F1 sad: p 3/4, r 3/4 -> 0.75; angry: p 1/2, r 1/2 -> 0.5
    assert m["macro_f1"] == pytest.approx(0.625)
    assert m["confusion"] == [[0.5, 0.5], [0.25, 0.75]]
    assert m["confusion_counts"] == [[1, 1], [1, 3]]
    assert m["n"] == 6 and m["labels"] == ["angry", "sad"]
    assert m["support"] == {"angry": 2, "sad": 4}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_sklearn_on_imbalanced_data(seed):
    y_true = _random_labels(200, seed, p=[0.5, 0.3, 0.15, 0.05])
    y_pred = _random_labels(200, seed + 100)
    m = classification_metrics(y_true, y_pred, LABELS)
    assert m["ua"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m["ua"] == pytest.approx(recall_score(y_true, y_pred, average="macro"))
    assert m["wa"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m["report"] == classification_report(y_true, y_pred, labels=LABELS, output_dict=True, zero_division=0)
    np.testing.assert_allclose(m["confusion"], confusion_matrix(y_true, y_pred, labels=LABELS, normalize="true"))
    # UA and WA differ on imbalanced data: the point of reporting both.
    assert m["ua"] != pytest.approx(m["wa"])


def test_label_missing_from_the_test_set():
    """A class nobody has and nobody predicts counts in neither UA nor macro-F1; its confusion row is zeros."""
    y_true = ["happy", "happy", "sad"]
    y_pred = ["happy", "sad", "sad"]
    m = classification_metrics(y_true, y_pred, LABELS)
    assert m["ua"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m["confusion"][LABELS.index("angry")] == [0.0] * 4
    assert set(m["report"]) == {"happy", "sad", "accuracy", "macro avg", "weighted avg"}
    assert m["support"]["angry"] == 0


def test_predicted_class_absent_from_truth_counts_in_f1_not_ua():
    y_true = ["happy", "happy", "sad", "sad"]
    y_pred = ["happy", "angry", "sad", "sad"]
    m = classification_metrics(y_true, y_pred, LABELS)
    assert m["ua"] == pytest.approx(0.75)
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=["happy", "sad", "angry"], average="macro"))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="'boredom'"):
        classification_metrics(["boredom"], ["sad"], LABELS)
    with pytest.raises(ValueError, match="no predictions"):
        classification_metrics([], [], LABELS)
    with pytest.raises(ValueError, match="2 labels but y_pred has 1"):
        classification_metrics(["sad", "sad"], ["sad"], LABELS)


@pytest.mark.filterwarnings("ignore:A single label was found")  # sklearn's own call, on the 1-item group
def test_breakdown_per_group_equals_sklearn_on_each_subset():
    y_true = _random_labels(60, 3)
    y_pred = _random_labels(60, 4)
    groups = [f"spk{i % 3}" for i in range(60)]
    groups[5] = ""
    table = breakdown(groups, y_true, y_pred)
    assert [row["group"] for row in table] == ["(unknown)", "spk0", "spk1", "spk2"]
    assert sum(row["n"] for row in table) == 60
    for row in table:
        index = [i for i, g in enumerate(groups) if (g or "(unknown)") == row["group"]]
        t, p = [y_true[i] for i in index], [y_pred[i] for i in index]
        assert row["n"] == len(index)
        assert row["ua"] == pytest.approx(balanced_accuracy_score(t, p))
        assert row["wa"] == pytest.approx(accuracy_score(t, p))
        assert row["macro_f1"] == pytest.approx(f1_score(t, p, average="macro", zero_division=0))


def test_normalise_rows_keeps_empty_rows_zero():
    np.testing.assert_allclose(normalise_rows([[2, 2], [0, 0]]), [[0.5, 0.5], [0.0, 0.0]])


def test_expected_calibration_error():
    # Always right with confidence 1: calibrated.
    assert expected_calibration_error(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1])) == 0.0
    # Confidence 0.75 on each of 4 items, 3 right: calibrated in its bin.
    proba = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(proba, np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    # Confidence 0.9, all wrong: off by 0.9.
    assert expected_calibration_error(np.array([[0.9, 0.1]] * 3), np.array([1, 1, 1])) == pytest.approx(0.9)
    # Two bins: half the items at 0.6 (all right: gap 0.4), half at 0.95 (all right: gap 0.05).
    proba = np.array([[0.6, 0.4], [0.6, 0.4], [0.95, 0.05], [0.95, 0.05]])
    assert expected_calibration_error(proba, np.array([0, 0, 0, 0])) == pytest.approx(0.5 * 0.4 + 0.5 * 0.05)
