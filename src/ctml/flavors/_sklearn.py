"""scikit-learn: any estimator or ``Pipeline`` with ``fit`` and ``predict``.

Saved with skops (``skops.io.dumps``), not pickle: skops stores a description of the objects and, on load,
lists every type it would have to construct. ctml refuses the payload unless each of those types comes from
scikit-learn, NumPy, SciPy or ctml (:data:`TRUSTED_PREFIXES`), and only then loads it with exactly those types
trusted. A pipeline holding, say, a LightGBM step is refused at load with a message that names the type; fit
such a model with its own flavor instead.

Seeds: every ``random_state`` parameter that is ``None`` (including those of a pipeline's steps) is set to the
fit's seed on a clone; parameters the user set are left alone.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ctml.errors import ConfigError, UntrustedModelError
from ctml.flavors._base import Checkpointer
from ctml.flavors._signature import Signature, Task

__all__ = ["TRUSTED_PREFIXES", "SklearnFlavor"]

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "ctml.")
"""Modules whose types a skops payload may contain."""


class SklearnFlavor:
    """scikit-learn estimators and pipelines; ``partial_fit`` where the estimator has one."""

    name = "sklearn"
    format = "skops"
    capabilities = frozenset({"proba", "warm_start", "incremental", "learn"})
    requires = ("scikit-learn", "skops", "numpy", "scipy")

    def __repr__(self) -> str:
        return "SklearnFlavor()"

    def task_of(self, estimator: Any) -> Task:
        from sklearn.base import is_classifier, is_regressor

        if is_classifier(estimator):
            return "classification"
        if is_regressor(estimator):
            return "regression"
        raise ConfigError(
            f"The scikit-learn flavor fits classifiers and regressors; {type(estimator).__name__} is neither "
            "(for a Pipeline, its last step decides)."
        )

    def fit(
        self,
        estimator: Any,
        X: np.ndarray,
        y: np.ndarray,
        signature: Signature,
        *,
        seed: int,
        init: Any = None,
        checkpoint: Checkpointer | None = None,
    ) -> Any:
        from sklearn.base import clone

        if checkpoint is not None:
            raise ConfigError("scikit-learn models do not checkpoint; fit them without a checkpoint.")
        if init is None:
            model = clone(estimator)
            seeds = {
                n: seed for n, v in model.get_params(deep=True).items() if n.endswith("random_state") and v is None
            }
            model.set_params(**seeds)
        else:
            if "warm_start" not in init.get_params():
                raise ConfigError(
                    f"{type(init).__name__} has no warm_start parameter, so it cannot continue from a fitted model. "
                    "Fit it afresh, or use an estimator with warm_start (SGDClassifier, MLPClassifier, ...)."
                )
            model = copy.deepcopy(init)
            model.set_params(warm_start=True)
        return model.fit(X, y)

    def learns(self, fitted: Any) -> bool:
        return hasattr(fitted, "partial_fit")

    def learn(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> None:
        if not hasattr(fitted, "partial_fit"):
            raise ConfigError(f"{type(fitted).__name__} has no partial_fit, so it cannot learn in place.")
        fitted.partial_fit(X, y)

    def partial_fit(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> Any:
        if not hasattr(fitted, "partial_fit"):
            raise ConfigError(
                f"{type(fitted).__name__} has no partial_fit, so it cannot learn incrementally. "
                "Use SGDClassifier, SGDRegressor, MultinomialNB, ... or refit."
            )
        model = copy.deepcopy(fitted)
        if signature.classes is None:
            return model.partial_fit(X, y)
        return model.partial_fit(X, y, classes=np.arange(len(signature.classes)))

    def predict(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        out = np.asarray(fitted.predict(X))
        return out.astype(np.int64) if signature.task == "classification" else out.astype(np.float64)

    def predict_proba(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        if not hasattr(fitted, "predict_proba"):
            raise ConfigError(f"{type(fitted).__name__} has no predict_proba (for SGDClassifier, use loss='log_loss').")
        proba = np.asarray(fitted.predict_proba(X), dtype=np.float64)
        out = np.zeros((proba.shape[0], len(signature.classes or ())))
        out[:, np.asarray(fitted.classes_, dtype=np.int64)] = proba
        return out

    def dumps(self, fitted: Any) -> bytes:
        import skops.io

        data: bytes = skops.io.dumps(fitted)
        return data

    def loads(self, data: bytes) -> Any:
        import skops.io

        try:
            untrusted = skops.io.get_untrusted_types(data=data)
        except Exception as exc:
            raise ConfigError(f"These bytes are not a skops model: {exc}") from exc
        refused = sorted(t for t in untrusted if not t.startswith(TRUSTED_PREFIXES))
        if refused:
            raise UntrustedModelError(
                f"The scikit-learn model needs the types {refused}, which are not from scikit-learn, NumPy, SciPy "
                "or ctml, so ctml will not load it. Fit a model of another library with its own flavor "
                "(lightgbm, xgboost, river, torch)."
            )
        return skops.io.loads(data, trusted=untrusted)
