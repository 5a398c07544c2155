"""The models the demo trains: seeded scikit-learn estimators, and their parameters as plain values.

scikit-learn is imported when a model is made, not when the module is, so ``ctml --help`` stays fast.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ctml.types import JSON

__all__ = ["hyperparameters", "make_model", "small_data_threads"]


def make_model(kind: str, seed: int) -> Any:
    """A fresh estimator: ``logistic`` (scaled logistic regression) or ``hgb`` (histogram gradient boosting)."""
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=1000, random_state=seed))])


def hyperparameters(estimator: Any) -> dict[str, JSON]:
    """The estimator's plain-valued parameters, so a run records exactly what was fitted."""
    found: dict[str, JSON] = {}
    for key, value in sorted(estimator.get_params().items()):
        if value is None or isinstance(value, bool | int | float | str):
            found[f"estimator.{key}"] = value
    return found


def small_data_threads(kind: str) -> AbstractContextManager[Any]:
    """Limit OpenMP to one thread while the demo fits and predicts models of ``kind``.

    Its windows hold a few thousand rows, too few for threads to pay off; on a small, busy machine the
    OpenMP threads of gradient boosting spin against each other, and one fit measured 7 s instead of 0.25 s.
    """
    from threadpoolctl import threadpool_limits

    make_model(kind, 0)  # imports the estimator and so loads its OpenMP runtime: only loaded ones get limited

    limits: AbstractContextManager[Any] = threadpool_limits(limits=1, user_api="openmp")
    return limits
