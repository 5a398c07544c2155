"""``evaluate``: overall and per slice, undefined metrics skipped with a reason, never a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as sk

from ctml.errors import ConfigError
from ctml.evaluate import evaluate


def test_classification_overall_and_per_slice_match_sklearn() -> None:
    rng = np.random.default_rng(4)
    y = rng.choice(["down", "up"], 500)
    p_up = np.clip((y == "up") * 0.3 + rng.uniform(0, 0.7, 500), 0, 1)
    pred = np.where(p_up > 0.5, "up", "down")
    day = rng.integers(1, 8, 500)
    report = evaluate(y, pred, p_up, task="classification", slices={"day": day})
    assert report.classes == ["down", "up"]
    assert set(report.overall.metrics) == {"accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss", "ece"}
    assert report.overall.metrics["f1"] == pytest.approx(sk.f1_score(y, pred, pos_label="up"), abs=1e-12)
    assert [s.value for s in report.slices] == [1, 2, 3, 4, 5, 6, 7]
    assert sum(s.rows for s in report.slices) == 500
    tuesday = report.slice("day", 2)
    rows = day == 2
    assert tuesday.rows == rows.sum()
    assert tuesday.metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(y[rows] == "up", p_up[rows]), abs=1e-12)
    json.dumps(report.to_json(), allow_nan=False)


def test_undefined_metrics_are_skipped_and_explained() -> None:
    y = np.array([0, 1, 0, 1, 1, 1])
    proba = np.array([0.1, 0.8, 0.3, 0.7, 0.6, 0.9])
    group = np.array(["a", "a", "a", "a", "b", "b"])
    report = evaluate(y, (proba > 0.5).astype(int), proba, task="classification", slices={"group": group})
    b = report.slice("group", "b")
    assert "roc_auc" not in b.metrics
    assert "undefined" in b.skipped["roc_auc"]
    assert b.metrics["accuracy"] == 1.0
    assert "roc_auc" in report.slice("group", "a").metrics


def test_regression_skips_mape_where_a_target_is_zero() -> None:
    y = np.array([0.0, 1.0, 2.0, 4.0])
    report = evaluate(y, y + 0.5, task="regression", slices={"half": np.array([0, 0, 1, 1])})
    assert report.overall.metrics == {"mae": 0.5, "rmse": 0.5}
    assert "target is 0" in report.overall.skipped["mape"]
    assert report.slice("half", 1).metrics["mape"] == pytest.approx((0.25 + 0.125) / 2)


def test_multiclass_without_proba_reports_label_metrics_only() -> None:
    y = np.array([0, 1, 2, 2, 1, 0])
    pred = np.array([0, 2, 2, 2, 1, 1])
    report = evaluate(y, pred, task="classification")
    assert set(report.overall.metrics) == {"accuracy", "balanced_accuracy", "f1"}
    assert report.overall.metrics["f1"] == pytest.approx(sk.f1_score(y, pred, average="macro"), abs=1e-12)


def test_bad_inputs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="'task' parameter of evaluate"):
        evaluate([1], [1], task="ranking")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Slice column 'day'"):
        evaluate([1, 0], [1, 0], task="classification", slices={"day": [1]})
    with pytest.raises(ConfigError, match="one column per class"):
        evaluate([1, 0, 2], [1, 0, 2], np.full((3, 2), 0.5), task="classification")
