"""One call for a model's outputs and probabilities, with a verified NumPy path for linear scikit-learn models.

Serving answers each request with a prediction and, for classifiers, the class probabilities. Through
scikit-learn that is two calls, each validating its input again; on a 100-row request of a
``LogisticRegression`` the validation costs about 200 µs a call while the arithmetic costs 2 µs. ctml's
server has already checked the matrix (float64, C-contiguous, finite, in training column order), so for the
plain linear models below :func:`predictor` computes the decision function once, with the same NumPy
operations in the same order as scikit-learn, and derives labels and probabilities from it as
scikit-learn does.

The fast path is taken only when it is proven equal: when it is built, it and scikit-learn's own calls
answer a probe of 257 rows, and unless labels and probabilities agree bit for bit the model is served
through scikit-learn as before. Supported: ``LogisticRegression`` (binary and multinomial),
``SGDClassifier`` (log loss: labels and probabilities; hinge and other losses without probabilities: labels),
``LinearRegression``, ``Ridge`` and ``SGDRegressor``, alone or as the last step of a ``Pipeline`` whose other
steps are ``StandardScaler``. Every other model (and every other flavor) gets the plain calls. A classifier
without probabilities is answered with labels alone.

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from ctml.flavors import fit_model
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3))
>>> model = fit_model(LogisticRegression(), X, (X[:, 0] > 0).astype(int), feature_names=["a", "b", "c"], seed=0)
>>> predict = predictor(model)
>>> predict.fast
True
>>> codes, proba = predict(X[:2])
>>> codes.tolist() == model.flavor.predict(model.estimator, X[:2], model.signature).tolist()
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from ctml.errors import ConfigError
from ctml.flavors._model import Model

__all__ = ["Predictor", "predictor"]

_log = logging.getLogger(__name__)

Outputs = tuple[np.ndarray, "np.ndarray | None"]
_PROBE_ROWS = 257


class Predictor:
    """``predict(X) -> (outputs, probabilities or None)`` for a checked float64 matrix ``X``.

    ``outputs`` are class codes (int64) for a classifier and float64 values for a regressor, as the flavor's
    ``predict`` gives them; ``probabilities`` follow the flavor's ``predict_proba`` (one column per class of
    the signature), or are ``None`` for a regressor or a flavor without probabilities. ``fast`` says whether
    the verified linear path answers.
    """

    def __init__(self, call: Callable[[np.ndarray], Outputs], *, fast: bool) -> None:
        self._call = call
        self.fast = fast

    def __repr__(self) -> str:
        return f"Predictor(fast={self.fast})"

    def __call__(self, X: np.ndarray) -> Outputs:
        return self._call(X)


def predictor(model: Model, *, fast: bool = True) -> Predictor:
    """The one-call predictor of ``model``: the verified linear path where it applies (and ``fast``), the flavor's
    calls otherwise."""
    flavor, fitted, signature = model.flavor, model.estimator, model.signature
    width = len(signature.feature_names)
    with_proba = signature.classes is not None and "proba" in flavor.capabilities
    if with_proba:
        try:
            flavor.predict_proba(fitted, np.zeros((1, width)), signature)
        except ConfigError:  # a classifier without probabilities (SGDClassifier(loss="hinge"), ...): labels only
            with_proba = False

    def plain(X: np.ndarray) -> Outputs:
        out = flavor.predict(fitted, X, signature)
        return out, (flavor.predict_proba(fitted, X, signature) if with_proba else None)

    both = getattr(flavor, "outputs", None)
    if callable(both) and with_proba:  # a flavor that answers both in one pass (River: one predict_proba_one a row)
        return Predictor(lambda X: both(fitted, X, signature), fast=False)

    parts = _parts(fitted) if fast and flavor.name == "sklearn" else None
    linear = None if parts is None else _linear(*parts, len(signature.classes or ()))
    if parts is None or linear is None:
        return Predictor(plain, fast=False)
    try:
        probe = _probe(width, *parts)
        same = _equal(linear(probe), plain(probe), with_proba)
    except Exception as exc:  # a model the fast path misreads must never break serving: use scikit-learn
        _log.debug("the linear fast path failed its probe (%s: %s)", type(exc).__name__, exc)
        same = False
    if not same:
        _log.debug("the linear fast path differs from scikit-learn on %s; serving through scikit-learn", type(fitted))
        return Predictor(plain, fast=False)
    if not with_proba:
        return Predictor(lambda X: (linear(X)[0], None), fast=True)
    return Predictor(linear, fast=True)


def _equal(a: Outputs, b: Outputs, with_proba: bool) -> bool:
    if a[0].dtype != b[0].dtype or not np.array_equal(a[0], b[0]):
        return False
    if not with_proba:
        return True
    pa, pb = a[1], b[1]
    return pa is not None and pb is not None and pa.shape == pb.shape and np.array_equal(pa, pb)


Scalers = list[tuple["np.ndarray | None", "np.ndarray | None"]]


def _parts(fitted: Any) -> tuple[Scalers, Any] | None:
    """The scalers (mean or None, scale or None, in order) and the linear model of a supported estimator."""
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier, SGDRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scalers: Scalers = []
    last = fitted
    if type(fitted) is Pipeline:
        *front, (_, last) = fitted.steps
        for _, step in front:
            if type(step) is not StandardScaler:
                return None
            scalers.append((step.mean_ if step.with_mean else None, step.scale_ if step.with_std else None))
    if type(last) not in (LogisticRegression, SGDClassifier, LinearRegression, Ridge, SGDRegressor):
        return None  # exact types only: a subclass may compute differently
    return scalers, last


def _probe(width: int, scalers: Scalers, last: Any) -> np.ndarray:
    """A zero row, rows spread around the model's inputs, and rows on and near its decision boundaries (where
    probabilities are not saturated and formulas differ): each moved along a class's coefficients, or the
    difference of two classes', until its decision value is a target between -5 and 5."""
    rng = np.random.default_rng(0)
    half = (_PROBE_ROWS - 1) // 2
    spread = rng.normal(scale=3.0, size=(half, width))
    coef = np.atleast_2d(np.asarray(last.coef_, dtype=np.float64))
    intercept = np.broadcast_to(np.asarray(last.intercept_, dtype=np.float64), (coef.shape[0],))
    near = rng.normal(size=(_PROBE_ROWS - 1 - half, width))
    targets = np.linspace(-5.0, 5.0, len(near))
    targets[len(near) // 2] = 0.0
    k = coef.shape[0]
    for n in range(len(near)):
        i, j = n % k, (n + 1) % k
        w, b = (coef[i], intercept[i]) if k == 1 else (coef[i] - coef[j], intercept[i] - intercept[j])
        norm = float(w @ w)
        if norm > 0:
            near[n] += (targets[n] - (near[n] @ w + b)) / norm * w
    rows = np.vstack([np.zeros((1, width)), spread, near])
    for mean, scale in reversed(scalers):  # the rows above are in the model's own (scaled) input space
        if scale is not None:
            rows[1:] *= scale
        if mean is not None:
            rows[1:] += mean
    return np.ascontiguousarray(rows, dtype=np.float64)


def _linear(scalers: Scalers, last: Any, n_classes: int) -> Callable[[np.ndarray], Outputs] | None:
    """The NumPy twin of a supported linear model."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    kind = type(last)
    coef = np.asarray(last.coef_)
    if coef.dtype != np.float64:
        return None
    coef_t = coef.T if coef.ndim == 2 else coef
    intercept = last.intercept_

    def decision(X: np.ndarray) -> np.ndarray:
        if scalers:
            X = X.copy()
            for mean, scale in scalers:
                if mean is not None:
                    X -= mean
                if scale is not None:
                    X /= scale
        scores: np.ndarray = X @ coef_t + intercept
        return scores

    if kind not in (LogisticRegression, SGDClassifier):

        def regress(X: np.ndarray) -> Outputs:
            return decision(X).astype(np.float64), None

        return regress
    # LogisticRegression: softmax over classes; SGDClassifier (log loss): one-vs-rest, normalized. Any other SGD
    # loss gives labels the same way and probabilities no longer match, so the probe sends it to scikit-learn.
    multiclass = "softmax" if kind is LogisticRegression else "ovr"
    return _classifier(decision, np.asarray(last.classes_, dtype=np.int64), n_classes, multiclass)


def _classifier(
    decision: Callable[[np.ndarray], np.ndarray], classes: np.ndarray, n_classes: int, multiclass: str
) -> Callable[[np.ndarray], Outputs]:
    from scipy.special import expit
    from sklearn.utils.extmath import softmax

    complete = classes.tolist() == list(range(n_classes))

    def classify(X: np.ndarray) -> Outputs:
        scores = decision(X)
        if scores.ndim > 1 and scores.shape[1] == 1:
            scores = scores.reshape(-1)
        if scores.ndim == 1:
            codes = classes[(scores > 0).astype(np.intp)]
            p = expit(scores)
            proba = np.stack([1 - p, p], axis=1)
        elif multiclass == "softmax":
            codes = classes[np.argmax(scores, axis=1)]
            proba = softmax(scores.copy(), copy=False)
        else:
            codes = classes[np.argmax(scores, axis=1)]
            proba = _ovr(expit(scores))
        if complete:
            return codes, proba
        full = np.zeros((proba.shape[0], n_classes))
        full[:, classes] = proba
        return codes, full

    return classify


def _ovr(proba: np.ndarray) -> np.ndarray:
    """scikit-learn's one-vs-rest normalization (``_predict_proba_lr``): rows all zero become uniform."""
    total = proba.sum(axis=1)
    zero = total == 0
    if zero.any():
        proba[zero, :] = 1
        total[zero] = proba.shape[1]
    proba /= total.reshape((proba.shape[0], -1))
    return proba
