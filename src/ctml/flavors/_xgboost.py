"""XGBoost through its scikit-learn API (``XGBClassifier``, ``XGBRegressor``).

Saved as XGBoost's own UBJSON model (``Booster.save_raw("ubj")``): the library's portable format, and loading it
runs no code. The fitted object is an :class:`xgboost.Booster`, after ``fit`` and after ``loads`` alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ctml.errors import ConfigError
from ctml.flavors._base import Checkpointer, jsonable_params, pack, require, training_key, unpack
from ctml.flavors._boosting import fit_in_rounds, proba_from_raw
from ctml.flavors._signature import Signature, Task

__all__ = ["XGBoostFlavor"]


def _xgboost() -> Any:
    return require("xgboost", "xgboost", "The XGBoost flavor")


class XGBoostFlavor:
    """XGBoost boosters: probabilities, warm start from a fitted booster, checkpoints every ``every`` rounds."""

    name = "xgboost"
    format = "xgboost-ubj"
    capabilities = frozenset({"proba", "warm_start", "checkpoint"})
    requires = ("xgboost", "numpy")

    def __init__(self, every: int = 10) -> None:
        self.every = every

    def __repr__(self) -> str:
        return f"XGBoostFlavor(every={self.every})"

    def task_of(self, estimator: Any) -> Task:
        xgb = _xgboost()
        if isinstance(estimator, xgb.XGBClassifier):
            return "classification"
        if isinstance(estimator, xgb.XGBRegressor):
            return "regression"
        raise ConfigError(f"The XGBoost flavor fits XGBClassifier or XGBRegressor. Got {type(estimator).__name__}.")

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
        params = estimator.get_params()
        if params.get("random_state") is None:
            params["random_state"] = seed
        total = int(params.get("n_estimators") or 100)
        start = None if init is None else bytes(init.save_raw("ubj"))

        def train(rounds: int, saved: bytes | None) -> bytes:
            model = type(estimator)(**{**params, "n_estimators": rounds})
            model.fit(X, y, xgb_model=None if saved is None else self._booster(saved), verbose=False)
            return bytes(model.get_booster().save_raw("ubj"))

        key = training_key({**jsonable_params(params), "every": self.every}, seed, X, y, start)
        saved = fit_in_rounds(train, total=total, every=self.every, start=start, key=key, checkpoint=checkpoint)
        return self._booster(saved)

    def partial_fit(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> Any:
        raise ConfigError("XGBoost models do not learn incrementally; use fit(init=model) to add rounds instead.")

    def predict(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        if signature.task == "regression":
            return np.asarray(fitted.inplace_predict(X), dtype=np.float64)
        return np.asarray(np.argmax(self.predict_proba(fitted, X, signature), axis=1), dtype=np.int64)

    def predict_proba(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        return proba_from_raw(fitted.inplace_predict(X), signature)

    def dumps(self, fitted: Any) -> bytes:
        return pack({"rounds": int(fitted.num_boosted_rounds())}, bytes(fitted.save_raw("ubj")))

    def loads(self, data: bytes) -> Any:
        _, (raw,) = unpack(data, 1)
        return self._booster(raw)

    @staticmethod
    def _booster(raw: bytes) -> Any:
        booster = _xgboost().Booster()
        booster.load_model(bytearray(raw))
        return booster
