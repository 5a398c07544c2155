"""Small seeded streams and one small estimator per flavor, shared by the training tests."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from ctml.train import TrainingData

FLAVORS = ("sklearn", "lightgbm", "xgboost", "river", "torch")


def stream(rows: int = 300, seed: int = 0) -> TrainingData:
    """A drifting binary stream: the boundary turns as time goes on; one row a minute."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 4))
    angle = np.linspace(0.0, 1.2, rows)
    score = np.cos(angle) * X[:, 0] + np.sin(angle) * X[:, 1] + 0.3 * rng.normal(size=rows)
    y = np.where(score > 0, "up", "down")
    return TrainingData(X, y, ["a", "b", "c", "d"], time=np.arange(rows) * 60.0)


def available(flavor: str) -> bool:
    module = {"sklearn": "sklearn", "lightgbm": "lightgbm", "xgboost": "xgboost", "river": "river", "torch": "torch"}
    return importlib.util.find_spec(module[flavor]) is not None


def estimator(flavor: str) -> Any:
    """A small classifier of ``flavor`` whose training uses randomness, so a seed matters."""
    if flavor == "sklearn":
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(loss="log_loss", warm_start=True, max_iter=20, tol=None)
    if flavor == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier(
            n_estimators=8, num_leaves=4, subsample=0.7, subsample_freq=1, colsample_bytree=0.7, n_jobs=1
        )
    if flavor == "xgboost":
        import xgboost

        return xgboost.XGBClassifier(n_estimators=8, max_depth=3, subsample=0.7, colsample_bytree=0.7, n_jobs=1)
    if flavor == "river":
        from river import forest

        return forest.ARFClassifier(n_models=3)
    from ctml.flavors import TorchTabular

    return TorchTabular(hidden=(8,), epochs=3, batch_size=32)
