"""LightGBM through its scikit-learn API (``LGBMClassifier``, ``LGBMRegressor``).

Saved as LightGBM's own text model (``Booster.model_to_string``): readable, stable across versions, and loading
it runs no code. The fitted object is a :class:`lightgbm.Booster`, both after ``fit`` and after ``loads``, so a
loaded model predicts through exactly the code a fresh one does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ctml.errors import ConfigError
from ctml.flavors._base import Checkpointer, jsonable_params, pack, require, training_key, unpack
from ctml.flavors._boosting import fit_in_rounds, proba_from_raw
from ctml.flavors._signature import Signature, Task

__all__ = ["LightGBMFlavor"]


def _lightgbm() -> Any:
    return require("lightgbm", "lightgbm", "The LightGBM flavor")


class LightGBMFlavor:
    """LightGBM boosters: probabilities, warm start from a fitted booster, checkpoints every ``every`` rounds."""

    name = "lightgbm"
    format = "lightgbm-text"
    capabilities = frozenset({"proba", "warm_start", "checkpoint"})
    requires = ("lightgbm", "numpy")

    def __init__(self, every: int = 10) -> None:
        self.every = every

    def __repr__(self) -> str:
        return f"LightGBMFlavor(every={self.every})"

    def task_of(self, estimator: Any) -> Task:
        lgb = _lightgbm()
        if isinstance(estimator, lgb.LGBMClassifier):
            return "classification"
        if isinstance(estimator, lgb.LGBMRegressor):
            return "regression"
        raise ConfigError(f"The LightGBM flavor fits LGBMClassifier or LGBMRegressor. Got {type(estimator).__name__}.")

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
        lgb = _lightgbm()
        params = estimator.get_params()
        params["random_state"] = seed if params.get("random_state") is None else params["random_state"]
        params.setdefault("deterministic", True)
        if "force_col_wise" not in params:
            params.setdefault("force_row_wise", True)
        params["verbose"] = -1 if params.get("verbose") is None else params["verbose"]
        total = int(params.get("n_estimators") or 100)
        start = None if init is None else init.model_to_string().encode()

        def train(rounds: int, saved: bytes | None) -> bytes:
            model = type(estimator)(**{**params, "n_estimators": rounds})
            init_model = None if saved is None else lgb.Booster(model_str=saved.decode())
            model.fit(X, y, init_model=init_model)
            text: str = model.booster_.model_to_string()
            return text.encode()

        key = training_key({**jsonable_params(params), "every": self.every}, seed, X, y, start)
        saved = fit_in_rounds(train, total=total, every=self.every, start=start, key=key, checkpoint=checkpoint)
        return self.loads(pack({}, saved))

    def partial_fit(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> Any:
        raise ConfigError("LightGBM models do not learn incrementally; use fit(init=model) to add rounds instead.")

    def predict(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        if signature.task == "regression":
            return np.asarray(fitted.predict(X), dtype=np.float64)
        return np.asarray(np.argmax(self.predict_proba(fitted, X, signature), axis=1), dtype=np.int64)

    def predict_proba(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        return proba_from_raw(fitted.predict(X), signature)

    def dumps(self, fitted: Any) -> bytes:
        text: str = fitted.model_to_string()
        return pack({"trees": int(fitted.num_trees())}, text.encode())

    def loads(self, data: bytes) -> Any:
        _, (text,) = unpack(data, 1)
        return _lightgbm().Booster(model_str=text.decode())
