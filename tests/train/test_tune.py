"""tune(): Optuna's seeded TPE search on a time-ordered holdout; one seed, one answer."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ctml.errors import ConfigError, MissingExtraError
from ctml.train import Choice, FloatRange, IntRange, TrainingData, tune

from .streams import stream

pytest.importorskip("optuna")


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(y == p))


SPACE = {
    "max_depth": IntRange(1, 6),
    "min_samples_leaf": IntRange(1, 40, log=True),
    "criterion": Choice(("gini", "entropy")),
}


def test_the_same_seed_finds_the_same_parameters() -> None:
    data = stream(300)
    one = tune(DecisionTreeClassifier(), SPACE, data, metric=accuracy, n_trials=10, seed=7)
    two = tune(DecisionTreeClassifier(), SPACE, data, metric=accuracy, n_trials=10, seed=7)
    assert one == two
    assert one.holdout_rows == 60
    assert len(one.trials) == 10
    assert one.best_score == max(t["score"] for t in one.trials)  # type: ignore[type-var]
    assert json.loads(json.dumps(one.to_json())) == one.to_json()
    assert set(one.best_params) == set(SPACE)


def test_minimize_and_probabilities() -> None:
    data = stream(240)
    regression = TrainingData(data.X, data.X[:, 0] * 3 + data.X[:, 1], data.feature_names)
    mae = lambda y, p: float(np.mean(np.abs(y - p)))  # noqa: E731
    result = tune(
        DecisionTreeRegressor(),
        {"max_depth": IntRange(1, 6)},
        regression,
        metric=mae,
        n_trials=5,
        seed=0,
        direction="minimize",
    )
    assert result.best_score == min(t["score"] for t in result.trials)  # type: ignore[type-var]
    brier = lambda y, p: float(np.mean((p[:, 1] - (y == "up")) ** 2))  # noqa: E731
    proba = tune(
        DecisionTreeClassifier(),
        {"min_impurity_decrease": FloatRange(1e-4, 0.1, log=True)},
        data,
        metric=brier,
        n_trials=4,
        seed=0,
        direction="minimize",
        proba=True,
    )
    assert 0 <= proba.best_score <= 1


def test_bad_arguments() -> None:
    data = stream(50)
    message = "The 'n_trials' parameter of tune must be an int >= 1. Got 0 instead."
    with pytest.raises(ConfigError, match=re.escape(message)):
        tune(DecisionTreeClassifier(), SPACE, data, metric=accuracy, n_trials=0, seed=0)
    message = "The 'holdout' parameter of tune must be a float in (0, 1). Got 1.5 instead."
    with pytest.raises(ConfigError, match=re.escape(message)):
        tune(DecisionTreeClassifier(), SPACE, data, metric=accuracy, n_trials=1, seed=0, holdout=1.5)
    with pytest.raises(ConfigError, match="IntRange needs low < high"):
        IntRange(3, 3)
    with pytest.raises(ConfigError, match="on a log scale needs low > 0"):
        FloatRange(0.0, 1.0, log=True)


def test_a_missing_optuna_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'ctml\[tune\]'"):
        tune(DecisionTreeClassifier(), SPACE, stream(50), metric=accuracy, n_trials=1, seed=0)
