"""Hyper-parameter search inside a training step, with Optuna's seeded TPE sampler (the ``tune`` extra).

The search space is declarative (:class:`IntRange`, :class:`FloatRange`, :class:`Choice`), so it can live in a
config file. Each trial fits the estimator on the oldest ``1 - holdout`` of the rows and scores it on the newest
``holdout`` (time order is kept: a model is never scored on rows older than those it learned from). Every trial
fits with the same ``seed``, and the sampler is ``TPESampler(seed=seed)``, so one seed gives one answer.

The metric is a callable ``metric(y_true, y_pred) -> float`` (``ctml.evaluate.accuracy``, ``mae``, ... or the
caller's own), with ``direction`` saying whether higher is better; ``proba=True`` hands it class probabilities
(columns in ``sorted(labels)`` order) instead of labels, for ROC AUC or log loss.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ctml.errors import ConfigError, MissingExtraError
from ctml.flavors import fit_model
from ctml.train._data import TrainingData
from ctml.train._params import fraction, positive_int, seed_value
from ctml.types import JSON, JSONObject

__all__ = ["Choice", "FloatRange", "IntRange", "Space", "TuneResult", "tune"]

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class IntRange:
    """An int in ``[low, high]``, sampled on a log scale when ``log``."""

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"The {name!r} parameter of IntRange must be an int. Got {value!r} instead.")
        _ordered("IntRange", self.low, self.high, self.log)

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_int(name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class FloatRange:
    """A float in ``[low, high]``, sampled on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
                raise ConfigError(f"The {name!r} parameter of FloatRange must be a float. Got {value!r} instead.")
        _ordered("FloatRange", self.low, self.high, self.log)

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (None, bools, ints, floats or strings)."""

    options: tuple[Any, ...]

    def __post_init__(self) -> None:
        options = tuple(self.options)
        if not options or not all(o is None or isinstance(o, bool | int | float | str) for o in options):
            raise ConfigError(
                "The 'options' parameter of Choice must be a non-empty tuple of None, bools, numbers or strings. "
                f"Got {self.options!r} instead."
            )
        object.__setattr__(self, "options", options)

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.options))


Space = dict[str, IntRange | FloatRange | Choice]


def _ordered(owner: str, low: float, high: float, log: bool) -> None:
    if not low < high:
        raise ConfigError(f"{owner} needs low < high. Got low={low!r}, high={high!r}.")
    if log and low <= 0:
        raise ConfigError(f"{owner} on a log scale needs low > 0. Got low={low!r}.")


@dataclass(frozen=True)
class TuneResult:
    """The best parameters, their score on the holdout, and every trial."""

    best_params: JSONObject
    best_score: float
    direction: Direction
    seed: int
    holdout_rows: int
    trials: list[JSONObject]

    def to_json(self) -> JSONObject:
        return {
            "best_params": self.best_params,
            "best_score": self.best_score,
            "direction": self.direction,
            "seed": self.seed,
            "holdout_rows": self.holdout_rows,
            "trials": list(self.trials),
        }


def _optuna() -> Any:
    try:
        return importlib.import_module("optuna")
    except ImportError as exc:
        raise MissingExtraError("tune", "Hyper-parameter search (ctml.train.tune)", "optuna") from exc


def with_params(estimator: Any, params: dict[str, Any]) -> Any:
    """A copy of ``estimator`` with ``params`` set (River learners through ``clone``)."""
    if hasattr(estimator, "_get_params") and hasattr(estimator, "clone"):
        return estimator.clone(params)
    return copy.deepcopy(estimator).set_params(**params)


def tune(
    estimator: Any,
    space: Space,
    data: TrainingData,
    *,
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_trials: int,
    seed: int,
    holdout: float = 0.2,
    direction: Direction = "maximize",
    proba: bool = False,
) -> TuneResult:
    """Search ``space`` for the parameters of ``estimator`` that score best on the newest ``holdout`` of ``data``.

    >>> from sklearn.tree import DecisionTreeClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> data = TrainingData(X, (X[:, 0] + X[:, 1] > 0).astype(int), ["a", "b", "c"])
    >>> accuracy = lambda y, p: float(np.mean(y == p))
    >>> space = {"max_depth": IntRange(1, 8), "criterion": Choice(("gini", "entropy"))}
    >>> result = tune(DecisionTreeClassifier(), space, data, metric=accuracy, n_trials=8, seed=3)
    >>> result == tune(DecisionTreeClassifier(), space, data, metric=accuracy, n_trials=8, seed=3)
    True
    >>> len(result.trials), sorted(result.best_params)
    (8, ['criterion', 'max_depth'])
    """
    positive_int("tune", "n_trials", n_trials)
    seed = seed_value("tune", seed)
    fraction("tune", "holdout", holdout)
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"The 'direction' parameter of tune must be 'maximize' or 'minimize'. Got {direction!r}.")
    if not callable(metric):
        raise ConfigError(f"The 'metric' parameter of tune must be a callable metric(y_true, y_pred). Got {metric!r}.")
    if not isinstance(space, dict) or not space:
        raise ConfigError("The 'space' parameter of tune must be a non-empty dict of IntRange, FloatRange or Choice.")
    for name, spec in space.items():
        if not isinstance(spec, IntRange | FloatRange | Choice):
            raise ConfigError(f"The space entry {name!r} must be an IntRange, FloatRange or Choice. Got {spec!r}.")
    split = data.rows - round(data.rows * holdout)
    if split < 1 or split >= data.rows:
        raise ConfigError(f"tune needs rows on both sides of the holdout; {data.rows} rows with holdout={holdout}.")
    fit_part, held = data.slice(0, split), data.slice(split, data.rows)
    optuna = _optuna()

    def objective(trial: Any) -> float:
        params = {name: spec.suggest(trial, name) for name, spec in space.items()}
        model = fit_model(
            with_params(estimator, params), fit_part.X, fit_part.y, feature_names=data.feature_names, seed=seed
        )
        predicted = model.predict_proba(held.X) if proba else model.predict(held.X)
        score = float(metric(held.y, predicted))
        if not np.isfinite(score):
            raise ConfigError(f"The metric gave {score} for the parameters {params}; it must be a finite number.")
        return score

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=n_trials)
    finally:
        optuna.logging.set_verbosity(verbosity)
    trials: list[JSONObject] = [
        {
            "number": int(t.number),
            "params": {k: _plain(v) for k, v in t.params.items()},
            "score": None if t.value is None else float(t.value),
            "state": str(t.state.name).lower(),
        }
        for t in study.trials
    ]
    return TuneResult(
        best_params={k: _plain(v) for k, v in study.best_params.items()},
        best_score=float(study.best_value),
        direction=direction,
        seed=seed,
        holdout_rows=held.rows,
        trials=trials,
    )


def _plain(value: Any) -> JSON:
    if isinstance(value, np.generic):
        plain: JSON = value.item()
        return plain
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)
