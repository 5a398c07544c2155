"""Every metric equals scikit-learn's to 1e-12 on random inputs, ties and odd labels included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk
from sklearn.calibration import calibration_curve

from ctml.errors import ConfigError
from ctml.evaluate import (
    accuracy,
    balanced_accuracy,
    expected_calibration_error,
    f1,
    log_loss,
    mae,
    mape,
    rmse,
    roc_auc,
)

TOL = 1e-12
cases = settings(max_examples=40, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def labelled(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels with every class present, noisy predictions and row-normalised probabilities (coarse: many ties)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    pred = np.where(rng.uniform(size=n) < 0.6, y, rng.integers(0, k, n))
    raw = rng.dirichlet(np.ones(k), n) + 0.8 * np.eye(k)[y] * rng.uniform(size=(n, 1))
    proba = np.floor(raw / raw.sum(axis=1, keepdims=True) * 20) / 20
    proba[:, -1] = 1 - proba[:, :-1].sum(axis=1)
    return y, pred, proba


@cases
@given(seed=seeds, n=st.integers(6, 300), k=st.integers(2, 5))
def test_label_metrics_equal_sklearn(seed: int, n: int, k: int) -> None:
    y, pred, _ = labelled(seed, n, k)
    assert accuracy(y, pred) == pytest.approx(sk.accuracy_score(y, pred), abs=TOL)
    assert balanced_accuracy(y, pred) == pytest.approx(sk.balanced_accuracy_score(y, pred), abs=TOL)
    macro = sk.f1_score(y, pred, average="macro", labels=np.arange(k), zero_division=0.0)
    assert f1(y, pred, classes=np.arange(k)) == pytest.approx(macro, abs=TOL)
    yb, pb = np.where(y == k - 1, "pos", "neg"), np.where(pred == k - 1, "pos", "neg")
    binary = sk.f1_score(yb, pb, pos_label="pos", zero_division=0.0)
    assert f1(yb, pb, pos_label="pos") == pytest.approx(binary, abs=TOL)


@cases
@given(seed=seeds, n=st.integers(6, 300), k=st.integers(2, 5))
def test_probability_metrics_equal_sklearn(seed: int, n: int, k: int) -> None:
    y, _, proba = labelled(seed, n, k)
    classes = np.arange(k)
    if k == 2:
        expected_auc = sk.roc_auc_score(y, proba[:, 1])
        assert roc_auc(y, proba[:, 1]) == pytest.approx(expected_auc, abs=TOL)
    else:
        expected_auc = sk.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    assert roc_auc(y, proba, classes=classes) == pytest.approx(expected_auc, abs=TOL)
    assert log_loss(y, proba, classes=classes) == pytest.approx(sk.log_loss(y, proba, labels=classes), abs=TOL)


@cases
@given(seed=seeds, n=st.integers(6, 300), k=st.integers(2, 4), bins=st.integers(1, 15))
def test_ece_equals_calibration_curve_weighted_by_bin_rows(seed: int, n: int, k: int, bins: int) -> None:
    y, _, proba = labelled(seed, n, k)
    confidence = proba.max(axis=1)
    right = (proba.argmax(axis=1) == y).astype(int)
    right[0] = 1 - right[0] if right.min() == right.max() else right[0]  # calibration_curve wants two classes
    truth, mean_conf = calibration_curve(right, confidence, n_bins=bins, strategy="uniform")
    rows = np.bincount(np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], confidence), minlength=bins)
    expected = np.sum(rows[rows > 0] / n * np.abs(truth - mean_conf))
    # Re-derive y so that the flipped row above is reflected in the labels the metric sees.
    y_used = np.where(right == 1, proba.argmax(axis=1), (proba.argmax(axis=1) + 1) % k)
    assert expected_calibration_error(y_used, proba, classes=np.arange(k), bins=bins) == pytest.approx(
        expected, abs=TOL
    )


@cases
@given(seed=seeds, n=st.integers(1, 300))
def test_regression_metrics_equal_sklearn(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(3, 2, n)
    pred = y + rng.normal(0, 1, n)
    assert mae(y, pred) == pytest.approx(sk.mean_absolute_error(y, pred), abs=TOL)
    assert rmse(y, pred) == pytest.approx(sk.root_mean_squared_error(y, pred), abs=TOL)
    assert mape(y, pred) == pytest.approx(sk.mean_absolute_percentage_error(y, pred), rel=TOL)


def test_mape_at_zero_divides_by_eps_like_sklearn() -> None:
    y, pred = np.array([0.0, 2.0]), np.array([1.0, 1.0])
    assert mape(y, pred) == sk.mean_absolute_percentage_error(y, pred)
    assert mape(y, pred) > 1e15


def test_string_labels_and_unsorted_classes() -> None:
    y = np.array(["up", "down", "up", "down", "up"])
    proba_up = np.array([0.9, 0.2, 0.6, 0.6, 0.4])
    expected = sk.roc_auc_score(y == "up", proba_up)
    assert roc_auc(y, np.column_stack((1 - proba_up, proba_up)), classes=["down", "up"]) == expected
    # Columns in the model's own order: "up" first.
    assert log_loss(y, np.column_stack((proba_up, 1 - proba_up)), classes=["up", "down"]) == pytest.approx(
        sk.log_loss(y, np.column_stack((1 - proba_up, proba_up)), labels=["down", "up"]), abs=TOL
    )


def test_auc_with_one_class_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="ROC AUC is undefined"):
        roc_auc([1, 1, 1], [0.2, 0.5, 0.9], classes=[0, 1])


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="same non-empty length"):
        accuracy([1, 0], [1])
    with pytest.raises(ConfigError, match="columns for 3 classes"):
        log_loss([0, 1, 2], np.full((3, 2), 0.5), classes=[0, 1, 2])
    with pytest.raises(ConfigError, match="not among the classes"):
        log_loss([0, 1, 7], np.full((3, 2), 0.5), classes=[0, 1])
