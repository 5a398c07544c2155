"""``Model.prequential``: test-then-train in one call answers every row as the model was then, the same as
predicting and learning one step at a time (River's own loop, and the generic loop for any flavor that learns)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier

from ctml.errors import ConfigError
from ctml.flavors import Model, fit_model, predictor
from ctml.flavors._signature import encode_labels

from .elec2 import classification, regression


def _lessons(model: Model, X: np.ndarray, y: np.ndarray, delay: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Row r's label arrives once row r + delay was answered: before row r + delay + 1."""
    coded = encode_labels(model.signature, y)
    return [(r + delay + 1, X[r : r + 1], coded[r : r + 1]) for r in range(len(X) - delay)]


def _step_by_step(model: Model, X: np.ndarray, lessons: list[tuple[int, np.ndarray, np.ndarray]]) -> Any:
    answer = predictor(model, fast=False)
    outs, probas = [], []
    due = iter(lessons)
    nxt = next(due, None)
    for i in range(len(X) + 1):
        while nxt is not None and nxt[0] <= i:
            model.learn(nxt[1], nxt[2])
            nxt = next(due, None)
        if i < len(X):
            out, proba = answer(X[i : i + 1])
            outs.append(out)
            if proba is not None:
                probas.append(proba)
    return np.concatenate(outs), (np.concatenate(probas) if probas else None)


def _fitted(estimator: Any, X: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> tuple[Model, Model]:
    a = fit_model(estimator, X[:200], y[:200], feature_names=names, seed=0)
    return a, Model.from_bytes(a.to_bytes(), digest=None) if a.flavor.format != "pickle" else _copy(a)


def _copy(model: Model) -> Model:
    from ctml.hashing import sha256_bytes

    data = model.to_bytes()
    return Model.from_bytes(data, digest=sha256_bytes(data))


@pytest.mark.parametrize("delay", [0, 5])
def test_river_prequential_equals_predicting_and_learning_row_by_row(delay: int) -> None:
    tree = pytest.importorskip("river.tree")
    X, y, names = classification(500)
    one, other = _fitted(tree.HoeffdingTreeClassifier(), X, y, names)
    rows, labels = X[200:], y[200:]
    out, proba = one.prequential(rows, _lessons(one, rows, labels, delay))
    expected_out, expected_proba = _step_by_step(other, rows, _lessons(other, rows, labels, delay))
    assert np.array_equal(out, expected_out)
    assert np.array_equal(proba, expected_proba)
    later = classification(700)[0][500:]  # both learned the same labels in the same order: they answer alike
    assert np.array_equal(predictor(one, fast=False)(later)[1], predictor(other, fast=False)(later)[1])


def test_river_regressor_prequential() -> None:
    pytest.importorskip("river")
    from river import linear_model, preprocessing

    X, y, names = regression(400)
    one, other = _fitted(preprocessing.StandardScaler() | linear_model.LinearRegression(), X, y, names)
    rows, labels = X[200:], y[200:]
    out, proba = one.prequential(rows, _lessons(one, rows, labels, 3))
    expected, _ = _step_by_step(other, rows, _lessons(other, rows, labels, 3))
    assert proba is None
    assert np.array_equal(out, expected)


def test_the_generic_loop_serves_any_flavor_that_learns() -> None:
    X, y, names = classification(500)
    one, other = _fitted(SGDClassifier(loss="log_loss", random_state=0), X, y, names)
    rows, labels = X[200:], y[200:]
    out, proba = one.prequential(rows, _lessons(one, rows, labels, 2))
    expected_out, expected_proba = _step_by_step(other, rows, _lessons(other, rows, labels, 2))
    assert np.array_equal(out, expected_out)
    assert np.allclose(proba, expected_proba)


def test_lessons_out_of_order_and_models_that_cannot_learn_are_refused() -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y, names = classification(300)
    learner = fit_model(SGDClassifier(random_state=0), X, y, feature_names=names, seed=0)
    coded = encode_labels(learner.signature, y)
    with pytest.raises(ConfigError, match="in the order"):
        learner.prequential(X[:10], [(5, X[:1], coded[:1]), (2, X[:1], coded[:1])])
    fixed = fit_model(DecisionTreeClassifier(), X, y, feature_names=names, seed=0)
    with pytest.raises(ConfigError, match="does not learn"):
        fixed.prequential(X[:10], [])
