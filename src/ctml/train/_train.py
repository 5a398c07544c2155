"""One entry point, :func:`train`: run a strategy for an estimator on a history, from an optional champion.

The result carries the model and a JSON record of what was done (strategy and parameters, rows and time range
used, seed, flavor, estimator parameters, the champion's digest, library versions, seconds), which
:func:`record_training` stores with a run.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ctml.clock import Clock, WallClock
from ctml.errors import ConfigError
from ctml.flavors import Checkpointer, Model, ModelFlavor, fit_model, flavor_for
from ctml.hashing import canonical_json, sha256_bytes
from ctml.train._data import TrainingData
from ctml.train._params import seed_value
from ctml.train._strategies import STRATEGIES, Strategy
from ctml.types import JSON, JSONObject

if TYPE_CHECKING:
    from ctml.meta import MetaStore

__all__ = ["TrainingResult", "record_training", "supports", "train"]


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A trained model, the rows ``start:stop`` of the history it learned from, and the record of the training."""

    model: Model
    start: int
    stop: int
    time_range: tuple[float, float] | None
    seed: int
    seconds: float
    record: JSONObject

    @property
    def rows(self) -> int:
        return self.stop - self.start


def supports(strategy: Strategy, estimator: Any) -> bool:
    """Whether ``strategy`` can train ``estimator`` from a champion of its kind.

    >>> from sklearn.linear_model import LogisticRegression, SGDClassifier
    >>> from ctml.train import Incremental
    >>> supports(Incremental(), SGDClassifier()), supports(Incremental(), LogisticRegression())
    (True, False)
    """
    return _unsupported(strategy, estimator, flavor_for(estimator)) is None


def _unsupported(strategy: Strategy, estimator: Any, flavor: ModelFlavor) -> str | None:
    need = strategy.needs
    if need is None:
        return None
    if need not in flavor.capabilities:
        return f"the {flavor.name} flavor has no {need!r} capability"
    if flavor.name == "sklearn":
        if need == "incremental" and not hasattr(estimator, "partial_fit"):
            return f"{type(estimator).__name__} has no partial_fit"
        if need == "warm_start" and "warm_start" not in estimator.get_params():
            return f"{type(estimator).__name__} has no warm_start parameter"
    return None


def train(
    strategy: Strategy,
    estimator: Any,
    history: TrainingData,
    *,
    champion: Model | None = None,
    seed: int,
    seen: int | None = None,
    checkpoint: Checkpointer | None = None,
    clock: Clock | None = None,
) -> TrainingResult:
    """Train ``estimator`` on ``history`` the way ``strategy`` says, reproducibly for ``seed``.

    ``champion`` is the model serving now (warm starts, fine-tuning and incremental updates start from it; the
    other strategies ignore it). ``seen`` tells :class:`~ctml.train.Incremental` how many leading rows of the
    history the champion learned. ``checkpoint`` lets a long fit resume after a kill (flavors with the
    ``checkpoint`` capability). A strategy the estimator's flavor cannot run is a :class:`ConfigError` before
    anything is trained; the champion is never changed.

    >>> from sklearn.linear_model import SGDClassifier
    >>> from ctml.train import FullHistory, Incremental
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> history = TrainingData(X, (X[:, 0] > 0).astype(int), ["a", "b"])
    >>> first = train(FullHistory(), SGDClassifier(), history.slice(0, 150), seed=1)
    >>> update = train(Incremental(), SGDClassifier(), history, champion=first.model, seed=1, seen=first.stop)
    >>> update.start, update.stop, update.record["mode"], update.record["strategy"]
    (150, 200, 'partial_fit', {'name': 'incremental', 'params': {}})
    """
    if not isinstance(strategy, STRATEGIES):
        names = ", ".join(s.__name__ for s in STRATEGIES)
        raise ConfigError(f"train() takes a strategy ({names}). Got {strategy!r}.")
    if not isinstance(history, TrainingData):
        raise ConfigError(f"train() takes the history as a TrainingData. Got {type(history).__name__}.")
    seed = seed_value("train", seed)
    flavor = flavor_for(estimator)
    reason = _unsupported(strategy, estimator, flavor)
    if reason is not None:
        raise ConfigError(
            f"The {type(strategy).__name__} strategy cannot train {type(estimator).__name__}: {reason}. "
            "Use FullHistory or SlidingWindow, or an estimator that supports it (see docs/training.md)."
        )
    plan = strategy.plan(history, has_champion=champion is not None, seen=seen)
    data = history.slice(plan.start, plan.stop)
    if data.rows == 0 and plan.mode != "partial_fit":
        raise ConfigError(f"The {strategy.name} strategy found no rows to learn from in {history!r}.")
    # A fresh classifier cannot learn from one class, nor can scikit-learn's warm start (it re-reads the classes).
    one_class_fails = plan.mode == "fit" or (plan.mode == "warm_start" and flavor.name == "sklearn")
    if one_class_fails and flavor.task_of(estimator) == "classification" and len(np.unique(data.y)) < 2:
        raise ConfigError(
            f"The {strategy.name} strategy would fit a classifier on rows {plan.start}:{plan.stop}, which hold "
            f"only the class {data.y[0]!r}; it needs at least two. Use a longer window, or keep the champion "
            "until another class has arrived."
        )
    if champion is not None and plan.mode != "fit" and champion.flavor.name != flavor.name:
        raise ConfigError(
            f"A {flavor.name} estimator cannot continue from a {champion.flavor.name} champion; "
            "use FullHistory or SlidingWindow to replace it with a new kind of model."
        )
    clock = clock or WallClock()
    started = clock.monotonic()
    mode: str = plan.mode
    if plan.mode == "partial_fit":
        assert champion is not None  # the plan is partial_fit only with a champion
        if checkpoint is not None:
            raise ConfigError("An incremental update does not checkpoint; call train() without checkpoint=.")
        model = champion if data.rows == 0 else champion.partial_fit(data.X, data.y, data.feature_names)
        mode = "unchanged" if data.rows == 0 else mode
    else:
        init = champion if plan.mode == "warm_start" else None
        model = fit_model(
            estimator, data.X, data.y, feature_names=data.feature_names, seed=seed, init=init, checkpoint=checkpoint
        )
    seconds = clock.monotonic() - started
    time_range = data.time_range()
    kind = type(estimator)
    record: JSONObject = {
        "strategy": {"name": strategy.name, "params": strategy.params()},
        "mode": mode,
        "rows": {"start": plan.start, "stop": plan.stop, "count": data.rows, "history": history.rows},
        "time": None if time_range is None else {"start": time_range[0], "end": time_range[1]},
        "seed": seed,
        "flavor": flavor.name,
        "estimator": {"type": f"{kind.__module__}.{kind.__qualname__}", "params": _params(estimator)},
        "champion": None if champion is None or mode == "fit" else {"sha256": sha256_bytes(champion.to_bytes())},
        "checkpoint": None if checkpoint is None else repr(checkpoint),
        "libraries": {name: _version(name) for name in ("ctml", *flavor.requires)},
        "seconds": seconds,
    }
    return TrainingResult(model, plan.start, plan.stop, time_range, seed, seconds, record)


def record_training(meta: MetaStore, run_id: str, result: TrainingResult, *, name: str = "train") -> None:
    """Store ``result`` with the run: params ``NAME.strategy``, ``NAME.seed``, ``NAME.rows``, the metric
    ``NAME.seconds`` and the whole record as the tag ``ctml.train.NAME`` (canonical JSON), in one transaction."""
    from ctml.meta import Metric

    strategy = result.record["strategy"]
    assert isinstance(strategy, dict)
    meta.runs.log(
        run_id,
        params={f"{name}.strategy": strategy["name"], f"{name}.seed": result.seed, f"{name}.rows": result.rows},
        metrics=[Metric(f"{name}.seconds", result.seconds)],
        tags={f"ctml.train.{name}": canonical_json(result.record)},
    )


def _params(estimator: Any) -> JSONObject:
    getter = getattr(estimator, "get_params", None) or getattr(estimator, "_get_params", None)
    if getter is None:
        return {}
    try:
        params = dict(getter())
    except Exception:
        return {}
    return {str(k): _jsonable(v) for k, v in sorted(params.items())}


def _jsonable(value: Any) -> JSON:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else repr(float(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, list | tuple) and all(v is None or isinstance(v, bool | int | float | str) for v in value):
        return [_jsonable(v) for v in value]
    return repr(value)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
