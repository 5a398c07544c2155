"""River: online learners that learn one row at a time (``learn_one``) and update in place.

River has no safe serialization format, so this flavor saves with :mod:`pickle`. Unpickling runs code chosen
by whoever wrote the bytes, which is why :meth:`ctml.flavors.Model.from_bytes` loads a ``pickle`` payload only
when it was given the expected sha256 digest and the bytes matched it *before* anything was unpickled (the
artifact store and registry always pass it). :meth:`RiverFlavor.loads` itself does no checking: call it only
on bytes you verified.

Rows reach River as dicts keyed by feature name, one ``learn_one``/``predict_one`` per row; River's
``*_many`` methods take pandas frames, which ctml keeps off its hot paths.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from ctml.errors import ConfigError
from ctml.flavors._base import Checkpointer, require
from ctml.flavors._signature import Signature, Task

__all__ = ["RiverFlavor"]


def _river_base() -> Any:
    return require("river.base", "river", "The River flavor")


def _rows(X: np.ndarray, signature: Signature) -> list[dict[str, float]]:
    names = signature.feature_names
    return [dict(zip(names, row, strict=True)) for row in X.tolist()]


class RiverFlavor:
    """River classifiers and regressors: probabilities, warm start, incremental updates."""

    name = "river"
    format = "pickle"
    capabilities = frozenset({"proba", "warm_start", "incremental", "learn"})
    requires = ("river", "numpy")

    def __repr__(self) -> str:
        return "RiverFlavor()"

    def task_of(self, estimator: Any) -> Task:
        base = _river_base()
        if isinstance(estimator, base.Classifier):
            return "classification"
        if isinstance(estimator, base.Regressor):
            return "regression"
        raise ConfigError(f"The River flavor fits River classifiers and regressors. Got {type(estimator).__name__}.")

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
        if checkpoint is not None:
            raise ConfigError("River models do not checkpoint; they learn fast, one row at a time.")
        if init is not None:
            return self.partial_fit(init, X, y, signature)
        params = estimator._get_params()
        model = estimator.clone({"seed": seed} if "seed" in params and params["seed"] is None else None)
        return self._learn(model, X, y, signature)

    def partial_fit(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> Any:
        return self._learn(fitted.clone(include_attributes=True), X, y, signature)

    @staticmethod
    def _learn(model: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> Any:
        for row, target in zip(_rows(X, signature), y.tolist(), strict=True):
            model.learn_one(row, target)
        return model

    def learns(self, fitted: Any) -> bool:
        return True

    def learn(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> None:
        self._learn(fitted, X, y, signature)

    def outputs(self, fitted: Any, X: np.ndarray, signature: Signature) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels and probabilities in one pass over the rows; a label is River's own ``predict_one`` choice
        (the first most probable class in the order the model met them), so served answers equal River's."""
        return self.prequential(fitted, X, (), signature)

    def prequential(
        self, fitted: Any, X: np.ndarray, lessons: Sequence[tuple[int, np.ndarray, np.ndarray]], signature: Signature
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`ctml.flavors.Model.prequential` in one loop: each row's answer, then the lessons due before the
        next row, ``learn_one`` by ``learn_one`` (what :meth:`outputs` and :meth:`learn` do, without a call
        through ctml per row)."""
        regression = signature.task == "regression"
        k = len(signature.classes or ())
        n = X.shape[0]
        values = np.zeros(n)
        out = np.zeros((n, k))
        labels = np.zeros(n, dtype=np.int64)
        due = list(lessons)
        at = 0
        for i, row in enumerate(_rows(X, signature)):
            while at < len(due) and due[at][0] <= i:
                self._learn(fitted, due[at][1], due[at][2], signature)
                at += 1
            if regression:
                value = fitted.predict_one(row)
                values[i] = np.nan if value is None else value
                continue
            proba = fitted.predict_proba_one(row)
            if proba:
                best = max(proba, key=proba.get)
                labels[i] = int(best)
                for code, p in proba.items():
                    out[i, int(code)] = p
        for _, rows, y in due[at:]:
            self._learn(fitted, rows, y, signature)
        if regression:
            return values, None
        totals = out.sum(axis=1, keepdims=True)
        return labels, np.asarray(np.divide(out, totals, out=np.full_like(out, 1.0 / k), where=totals > 0))

    def predict(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        if signature.task == "regression":
            return np.array([fitted.predict_one(row) for row in _rows(X, signature)], dtype=np.float64)
        return np.asarray(np.argmax(self.predict_proba(fitted, X, signature), axis=1), dtype=np.int64)

    def predict_proba(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        k = len(signature.classes or ())
        out = np.zeros((X.shape[0], k))
        for i, row in enumerate(_rows(X, signature)):
            for code, p in fitted.predict_proba_one(row).items():
                out[i, int(code)] = p
        totals = out.sum(axis=1, keepdims=True)
        # A learner that has seen nothing yet has no opinion: uniform.
        return np.asarray(np.divide(out, totals, out=np.full_like(out, 1.0 / k), where=totals > 0))

    def dumps(self, fitted: Any) -> bytes:
        return pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        """Unpickle ``data``: only bytes whose digest was verified (see the module docstring)."""
        _river_base()
        return pickle.loads(data)  # bytes verified by the caller: see the module docstring
