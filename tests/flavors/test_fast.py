"""The one-call predictor: the linear fast path answers exactly what scikit-learn answers, or is not taken."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier, SGDRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from ctml.flavors import Model, Signature, fit_model, predictor

rng = np.random.default_rng(7)
X = rng.normal(size=(600, 4)) * [1.0, 10.0, 0.1, 1000.0] + [0.0, 5.0, 0.0, -300.0]
Z = rng.normal(size=(300, 4)) * [3.0, 30.0, 0.3, 3000.0]  # wider than training: far from the boundary too
NAMES = ["a", "b", "c", "d"]


def _flavor_calls(model: Model, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    flavor, fitted, signature = model.flavor, model.estimator, model.signature
    out = flavor.predict(fitted, rows, signature)
    return out, (flavor.predict_proba(fitted, rows, signature) if signature.classes is not None else None)


def _assert_answers_as_the_flavor(model: Model, rows: np.ndarray, got: tuple[np.ndarray, np.ndarray | None]) -> None:
    out, proba = got
    want_out, want_proba = _flavor_calls(model, rows)
    assert out.dtype == want_out.dtype
    assert np.array_equal(out, want_out)
    if want_proba is None:
        assert proba is None
    else:
        assert proba is not None
        assert np.array_equal(proba, want_proba)


def _binary() -> np.ndarray:
    return np.where(X[:, 0] + 0.01 * X[:, 1] > 0.05, "yes", "no")


def _three() -> np.ndarray:
    return np.select([X[:, 0] > 0.5, X[:, 0] < -0.5], ["up", "down"], "flat")


CASES: dict[str, tuple[Any, Any]] = {
    "logistic binary": (LogisticRegression(max_iter=1000), _binary),
    "logistic multinomial": (LogisticRegression(max_iter=1000), _three),
    "scaled logistic": (make_pipeline(StandardScaler(), LogisticRegression()), _three),
    "logistic, no intercept": (LogisticRegression(fit_intercept=False, max_iter=1000), _binary),
    "sgd log loss binary": (make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss")), _binary),
    "sgd log loss one-vs-rest": (make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss")), _three),
    "linear regression": (LinearRegression(), lambda: X @ [1.0, -0.2, 3.0, 0.001] + rng.normal(size=len(X))),
    "scaled sgd regressor": (make_pipeline(StandardScaler(), SGDRegressor()), lambda: X[:, 0] * 3.0 - X[:, 2]),
    "scaled ridge": (make_pipeline(StandardScaler(with_mean=False), Ridge(alpha=3.0)), lambda: X[:, 1] * 2.0),
}


@pytest.mark.parametrize("case", CASES)
def test_the_fast_path_answers_bit_for_bit_what_the_flavor_answers(case: str) -> None:
    estimator, target = CASES[case]
    model = fit_model(estimator, X, target(), feature_names=NAMES, seed=0)
    predict = predictor(model)
    assert predict.fast
    for rows in (X, Z, X[:1], np.ascontiguousarray(Z[::7])):
        _assert_answers_as_the_flavor(model, rows, predict(rows))


def test_labels_at_a_zero_decision_follow_scikit_learn() -> None:
    model = fit_model(LogisticRegression(), X, _binary(), feature_names=NAMES, seed=0)
    fitted = model.estimator
    # rows exactly on the boundary: decision 0 -> scikit-learn says class 0 ('no'), probabilities 0.5 / 0.5
    on_boundary = np.zeros((3, 4))
    on_boundary[:, 0] = -fitted.intercept_[0] / fitted.coef_[0, 0]
    on_boundary = np.ascontiguousarray(on_boundary)
    _assert_answers_as_the_flavor(model, on_boundary, predictor(model)(on_boundary))


def test_probabilities_cover_every_class_of_the_signature() -> None:
    fitted = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int) * 2)  # codes 0 and 2: class 1 never seen
    model = Model(fit_model(LogisticRegression(), X, _binary(), feature_names=NAMES, seed=0).flavor, fitted,
                  Signature(tuple(NAMES), ("float64",) * 4, "classification", ("a", "b", "c")))  # fmt: skip
    predict = predictor(model)
    assert predict.fast
    _, proba = predict(Z)
    assert proba is not None
    assert proba.shape == (len(Z), 3)
    assert not proba[:, 1].any()
    _assert_answers_as_the_flavor(model, Z, predict(Z))


class _Tweaked(LogisticRegression):
    pass


@pytest.mark.parametrize(
    "estimator",
    [
        DecisionTreeClassifier(max_depth=3),
        _Tweaked(),
        make_pipeline(MinMaxScaler(), LogisticRegression()),
        SGDClassifier(loss="modified_huber"),  # labels as the fast path's, probabilities by another formula
    ],
    ids=["tree", "subclass", "other scaler", "sgd modified huber"],
)
def test_other_models_are_served_through_their_flavor(estimator: Any) -> None:
    model = fit_model(estimator, X, _binary(), feature_names=NAMES, seed=0)
    predict = predictor(model)
    assert not predict.fast
    _assert_answers_as_the_flavor(model, Z, predict(Z))


def test_a_model_that_disagrees_with_the_fast_path_on_the_probe_is_not_given_it() -> None:
    model = fit_model(LogisticRegression(), X, _binary(), feature_names=NAMES, seed=0)
    honest = model.estimator.predict_proba
    model.estimator.predict_proba = lambda rows: np.clip(honest(rows) * 1.0000001, 0.0, 1.0)  # a changed formula
    predict = predictor(model)
    assert not predict.fast
    _, proba = predict(Z)
    assert np.array_equal(proba, model.flavor.predict_proba(model.estimator, Z, model.signature))


@pytest.mark.parametrize(
    ("estimator", "fast"), [(SGDClassifier(loss="hinge"), True), (LinearSVC(), False)], ids=["sgd hinge", "svc"]
)
def test_a_classifier_without_probabilities_is_answered_with_labels_alone(estimator: Any, fast: bool) -> None:
    model = fit_model(estimator, X, _three(), feature_names=NAMES, seed=0)
    predict = predictor(model)
    assert predict.fast is fast
    out, proba = predict(Z)
    assert proba is None
    assert np.array_equal(out, model.flavor.predict(model.estimator, Z, model.signature))
