"""Metrics for classification and regression, vectorised numpy, equal to scikit-learn's to 1e-12.

Conventions (the same as scikit-learn's, so numbers can be checked against it):

- ``classes`` orders the columns of ``proba``; when omitted it is the sorted distinct labels of ``y_true``.
  A binary problem's positive class is the *last* class, and a 1-D ``proba`` is that class's probability.
- ROC AUC is the Mann-Whitney statistic with mid-ranks, so a tie between a positive and a negative counts
  one half (the trapezoid under scikit-learn's ROC curve). Multiclass: one-vs-rest, macro-averaged.
- F1 with no predicted and no true positive (0 / 0) is 0, scikit-learn's ``zero_division`` default.
- Log loss clips probabilities to ``[eps, 1 - eps]`` (``eps`` of float64) and does not renormalise rows.
- MAPE is a fraction, not a percent; where ``y_true == 0`` its denominator is float64's ``eps`` (2.2e-16),
  as in scikit-learn, so a single zero target makes it huge. :func:`ctml.evaluate.evaluate` therefore skips
  MAPE, and says why, on any slice whose targets contain a zero.

>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 200)
>>> p = np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0, 1)
>>> guess = (p >= 0.5).astype(int)
>>> round(accuracy(y, guess), 4), round(f1(y, guess, pos_label=1), 4), round(roc_auc(y, p), 4)
(0.725, 0.7511, 0.8523)
>>> round(log_loss(y, p), 4), round(expected_calibration_error(y, p), 4)
(0.4661, 0.136)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from ctml.errors import ConfigError

__all__ = [
    "METRICS",
    "MetricSpec",
    "accuracy",
    "balanced_accuracy",
    "expected_calibration_error",
    "f1",
    "log_loss",
    "mae",
    "mape",
    "resolve_classes",
    "rmse",
    "roc_auc",
]

Floats = npt.NDArray[np.float64]
ECE_BINS = 10
_EPS = float(np.finfo(np.float64).eps)


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Share of rows whose predicted label is the true one.

    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def balanced_accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Mean recall over the classes present in ``y_true``.

    >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
    0.5
    """
    t, p = _pair(y_true, y_pred)
    _, which = np.unique(t, return_inverse=True)
    rows = np.bincount(which)
    right = np.bincount(which, weights=(t == p).astype(np.float64))
    return float(np.mean(right / rows))


def f1(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    pos_label: Any = None,
    classes: npt.ArrayLike | None = None,
) -> float:
    """Binary F1 of ``pos_label`` when it is given; else the macro F1 over ``classes`` (default: every label seen).

    >>> f1([0, 1, 1, 0], [0, 1, 0, 0], pos_label=1)
    0.6666666666666666
    >>> round(f1(["a", "b", "c", "a"], ["a", "b", "b", "a"]), 4)
    0.5556
    """
    t, p = _pair(y_true, y_pred)
    if pos_label is not None:
        labels = np.asarray([pos_label])
    elif classes is not None:
        labels = np.asarray(classes)
    else:
        labels = np.unique(np.concatenate((t, p)))
    hit = t == p
    # One row of (label == value) per label: tp, false positives and false negatives per class at once.
    is_true = t[None, :] == labels[:, None]
    is_pred = p[None, :] == labels[:, None]
    tp = np.sum(is_true & hit, axis=1)
    fp = np.sum(is_pred & ~hit, axis=1)
    fn = np.sum(is_true & ~hit, axis=1)
    denominator = 2 * tp + fp + fn
    per_class = np.divide(2.0 * tp, denominator, out=np.zeros(len(labels)), where=denominator > 0)
    return float(np.mean(per_class))


def roc_auc(y_true: npt.ArrayLike, proba: npt.ArrayLike, *, classes: npt.ArrayLike | None = None) -> float:
    """Area under the ROC curve: binary, or one-vs-rest macro for more than two classes.

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1, 1], [0.5, 0.5, 0.9])
    0.75
    """
    t, scores, labels = _probabilistic(y_true, proba, classes)
    if len(labels) == 2:
        scores = scores[:, 1:]
        positive = (t == labels[1])[:, None]
    else:
        positive = t[:, None] == labels[None, :]
    positives = positive.sum(axis=0)
    if np.any(positives == 0) or np.any(positives == len(t)):
        present = [_plain(c) for c in np.unique(t)]
        raise ConfigError(
            f"ROC AUC is undefined on rows whose true classes are only {present} of {[_plain(c) for c in labels]}: "
            "each class needs positive and negative rows to rank. Evaluate it on rows holding every class."
        )
    return float(np.mean(_auc_columns(positive, scores)))


def _auc_columns(positive: npt.NDArray[np.bool_], scores: Floats) -> Floats:
    """Mann-Whitney AUC of each column: positives' mean mid-rank above the lowest possible, scaled."""
    ranks = rankdata(scores, axis=0)
    n_pos = positive.sum(axis=0).astype(np.float64)
    n_neg = positive.shape[0] - n_pos
    rank_sum = np.sum(ranks * positive, axis=0)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)  # type: ignore[no-any-return]


def log_loss(y_true: npt.ArrayLike, proba: npt.ArrayLike, *, classes: npt.ArrayLike | None = None) -> float:
    """Mean negative log-probability of the true class, probabilities clipped to ``[eps, 1 - eps]``.

    >>> round(log_loss(["spam", "ham", "ham", "spam"], [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]), 5)
    0.21616
    """
    t, p, labels = _probabilistic(y_true, proba, classes)
    column = np.searchsorted(labels, t) if _sorted(labels) else _index_of(labels, t)
    chosen = np.clip(p, _EPS, 1 - _EPS)[np.arange(len(t)), column]
    return float(np.mean(-np.log(chosen)))


def expected_calibration_error(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, *, classes: npt.ArrayLike | None = None, bins: int = ECE_BINS
) -> float:
    """Top-label ECE: the row-weighted gap between accuracy and confidence over equal-width confidence bins.

    Confidence is a row's largest probability and the prediction its class. ``bins`` equal-width bins split
    [0, 1] like scikit-learn's ``calibration_curve(strategy="uniform")``: bin ``i`` holds ``(i/b, (i+1)/b]``,
    the first also 0. ECE = sum over bins of (rows in bin / rows) * |accuracy in bin - mean confidence in bin|.

    >>> round(expected_calibration_error([1, 1, 0, 0], [0.9, 0.9, 0.2, 0.4]), 6)
    0.2
    """
    t, p, labels = _probabilistic(y_true, proba, classes)
    if bins < 1:
        raise ConfigError(f"The 'bins' parameter of expected_calibration_error must be an int >= 1. Got {bins!r}.")
    best = np.argmax(p, axis=1)
    confidence = p[np.arange(len(t)), best]
    right = (labels[best] == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], confidence)
    gap = np.bincount(which, weights=right, minlength=bins) - np.bincount(which, weights=confidence, minlength=bins)
    return float(np.sum(np.abs(gap)) / len(t))


def mae(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Mean absolute error.

    >>> mae([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
    0.5
    """
    t, p = _numeric_pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t)))


def rmse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Root mean squared error.

    >>> rmse([0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 1.0, -1.0])
    1.0
    """
    t, p = _numeric_pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def mape(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Mean absolute percentage error as a fraction; a zero target divides by float64's eps (see above).

    >>> mape([100.0, 200.0], [110.0, 150.0])
    0.175
    """
    t, p = _numeric_pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t) / np.maximum(np.abs(t), _EPS)))


@dataclass(frozen=True)
class MetricSpec:
    """A metric by name: what it reads, which direction is better, and whether it is a regression metric."""

    name: str
    compute: Callable[..., float]
    needs_proba: bool
    higher_is_better: bool
    regression: bool


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("accuracy", accuracy, needs_proba=False, higher_is_better=True, regression=False),
        MetricSpec("balanced_accuracy", balanced_accuracy, needs_proba=False, higher_is_better=True, regression=False),
        MetricSpec("f1", f1, needs_proba=False, higher_is_better=True, regression=False),
        MetricSpec("roc_auc", roc_auc, needs_proba=True, higher_is_better=True, regression=False),
        MetricSpec("log_loss", log_loss, needs_proba=True, higher_is_better=False, regression=False),
        MetricSpec("ece", expected_calibration_error, needs_proba=True, higher_is_better=False, regression=False),
        MetricSpec("mae", mae, needs_proba=False, higher_is_better=False, regression=True),
        MetricSpec("rmse", rmse, needs_proba=False, higher_is_better=False, regression=True),
        MetricSpec("mape", mape, needs_proba=False, higher_is_better=False, regression=True),
    )
}
"""Every metric :func:`ctml.evaluate.evaluate` reports and a :class:`ctml.evaluate.Gate` can judge on."""


def resolve_classes(y_true: npt.ArrayLike, *predictions: npt.ArrayLike | None) -> npt.NDArray[Any]:
    """The sorted distinct labels of ``y_true`` and every given prediction."""
    seen = [np.asarray(y_true).ravel()] + [np.asarray(p).ravel() for p in predictions if p is not None]
    try:
        return np.unique(np.concatenate(seen))
    except TypeError as exc:
        raise ConfigError(
            f"The labels cannot be sorted ({exc}); they mix types. Pass labels of one type, or 'classes' "
            "in the order of the probability columns."
        ) from None


# -- input checks ----------------------------------------------------------------------------------------------


def _pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or p.shape != t.shape or t.size == 0:
        raise ConfigError(
            f"A metric needs y_true and y_pred as 1-D arrays of the same non-empty length. "
            f"Got shapes {t.shape} and {p.shape}."
        )
    return t, p


def _numeric_pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[Floats, Floats]:
    t, p = _pair(y_true, y_pred)
    try:
        return t.astype(np.float64), p.astype(np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"A regression metric needs numbers. Got arrays of {t.dtype} and {p.dtype}.") from None


def _probabilistic(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, classes: npt.ArrayLike | None
) -> tuple[npt.NDArray[Any], Floats, npt.NDArray[Any]]:
    t = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    labels = np.unique(t) if classes is None else np.asarray(classes)
    if p.ndim == 1:
        p = np.column_stack((1.0 - p, p))
    if t.ndim != 1 or t.size == 0 or p.ndim != 2 or p.shape[0] != t.size:
        raise ConfigError(
            f"A probability metric needs y_true (n,) and proba (n,) or (n, classes), n > 0. "
            f"Got shapes {t.shape} and {np.shape(proba)}."
        )
    if len(labels) < 2 or p.shape[1] != len(labels):
        raise ConfigError(
            f"proba has {p.shape[1]} columns for {len(labels)} classes {[_plain(c) for c in labels]}. "
            "Pass 'classes' in the order of the probability columns (a model's classes_)."
        )
    unknown = np.setdiff1d(t, labels)
    if unknown.size:
        raise ConfigError(
            f"y_true holds labels {[_plain(c) for c in unknown[:5]]} that are not among the classes "
            f"{[_plain(c) for c in labels]}. Pass every class in 'classes'."
        )
    return t, p, labels


def _sorted(labels: npt.NDArray[Any]) -> bool:
    return bool(np.all(labels[:-1] < labels[1:]))


def _index_of(labels: npt.NDArray[Any], values: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    order = np.argsort(labels)
    return order[np.searchsorted(labels, values, sorter=order)]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value
