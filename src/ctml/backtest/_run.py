"""``run_backtest``: ctml's policy and the baselines on the same historical rows, scored the same way."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from ctml.app import App, Tournament, load_app
from ctml.backtest._baselines import arf, bare_cost, refit_every
from ctml.backtest._replay import Progress, replay_ctml
from ctml.backtest._result import BacktestResult, PolicyResult
from ctml.backtest._stream import Stream, load_stream
from ctml.data import FileSource
from ctml.errors import ConfigError
from ctml.evaluate import Gate
from ctml.rollout import RolloutPlan
from ctml.train import SlidingWindow
from ctml.triggers import AnyOf, Drift, Manual, PerformanceDrop, RetrainPolicy, Rule, Volume

__all__ = ["DEFAULT_POLICIES", "POLICIES", "BacktestConfig", "batch_app", "default_app", "run_backtest"]

POLICIES = ("ctml", "ctml_batch", "never", "periodic", "always", "arf")
"""The policies a backtest knows, in the order they are reported: ``ctml`` is the default policy (the live
tournament), ``ctml_batch`` the loop without it (batch refits judged on a holdout, rolled out by canary)."""
DEFAULT_POLICIES = ("ctml", "never", "periodic", "always", "arf")
"""What a backtest runs unless told otherwise."""


@dataclass(frozen=True)
class BacktestConfig:
    """``warmup``: share of rows the first model is trained on; ``window_rows``: rows between reconcile cycles
    (default n/50); ``label_delay``: rows before a row's label arrives; ``every``/``limit``: subsample the file;
    ``drop``: columns that are not features."""

    warmup: float = 0.1
    window_rows: int | None = None
    label_delay: int = 0
    label_delay_share: float | None = None
    """Label delay as a share of the stream's rows (``0.01``: n/100); replaces ``label_delay`` when set."""
    policies: Sequence[str] = DEFAULT_POLICIES
    row_seconds: float = 60.0
    request_rows: int = 1
    """Rows a request to the model server holds; labels that are due are sent after each request, so with 1 an
    online champion learns every label before the next row, as the ``arf`` baseline does."""
    every: int = 1
    limit: int | None = None
    task: str | None = None
    seed: int = 0
    drop: Sequence[str] = ()
    """Columns left out of the features (leaks of the label, row ids)."""
    bare_cost: bool = False
    """Also time ctml's candidates outside ctml on the same rows (:func:`ctml.backtest._baselines.bare_cost`) and
    report ctml's wall time as a multiple of it (``details["overhead"]``)."""
    per_request: bool = False
    """Send ctml's rows as ``request_rows``-row requests over ASGI, as a live client would, instead of one block
    a window (:meth:`ctml.serve.ModelServer.answer_block`): the same answers and decisions, many times slower."""

    def __post_init__(self) -> None:
        if not 0.01 <= self.warmup <= 0.9:
            raise ConfigError(f"--warmup must be a share in [0.01, 0.9]. Got {self.warmup!r}.")
        if self.label_delay < 0:
            raise ConfigError(f"--label-delay must be rows >= 0. Got {self.label_delay!r}.")
        if self.label_delay_share is not None and not 0 <= self.label_delay_share < 1:
            raise ConfigError(f"label_delay_share must be a share in [0, 1). Got {self.label_delay_share!r}.")
        if self.window_rows is not None and self.window_rows < 1:
            raise ConfigError(f"--window must be rows >= 1. Got {self.window_rows!r}.")
        unknown = [p for p in self.policies if p not in POLICIES]
        if unknown or not self.policies:
            raise ConfigError(f"--policy must be among {', '.join(POLICIES)}. Got {list(self.policies)!r}.")
        if self.request_rows < 1 or self.request_rows > 1000:
            raise ConfigError(f"request_rows must be in [1, 1000]. Got {self.request_rows!r}.")


def default_app(
    stream: Stream, name: str, *, window_rows: int, row_seconds: float, seed: int = 0, train_rows: int | None = None
) -> App:
    """The app ctml would start from on a stream it knows nothing about: :func:`batch_app`'s model, rules and
    window, and a live tournament (:class:`ctml.app.Tournament`).

    - candidates: the batch model (gradient-boosted trees on the sliding window, refit when a rule fires, on the
      rows since the last change ADWIN finds in the champion's live errors), River's adaptive random forest
      and a Hoeffding adaptive tree, both learning every label in the server as it arrives;
    - the first champion is the candidate that scored best on the newest fifth of the first rows;
    - every candidate answers every request; a challenger replaces the champion at once when the gate
      (McNemar, or a paired bootstrap of the MAE) prefers it on the newest 2,000 live labelled rows both
      answered before their labels arrived. The old champion stays a challenger."""
    base = batch_app(stream, name, window_rows=window_rows, row_seconds=row_seconds, seed=seed, train_rows=train_rows)
    from river import forest, preprocessing, tree  # the river extra: run_backtest checks it is installed

    online: tuple[Any, ...]
    if stream.task == "classification":
        online = (forest.ARFClassifier(n_models=10, seed=seed), tree.HoeffdingAdaptiveTreeClassifier(seed=seed))
        gate = Gate(min_effect=0.002, alpha=0.05)
    else:
        online = (preprocessing.StandardScaler() | forest.ARFRegressor(n_models=10, seed=seed),
                  preprocessing.StandardScaler() | tree.HoeffdingAdaptiveTreeRegressor(seed=seed))  # fmt: skip
        gate = Gate(metric="mae", min_effect=0.0, alpha=0.05)
    return replace(base, tournament=Tournament(online, gate=gate))


def batch_app(
    stream: Stream, name: str, *, window_rows: int, row_seconds: float, seed: int = 0, train_rows: int | None = None
) -> App:
    """The loop without a tournament, as ctml ran it before (the ``ctml_batch`` policy).

    - the stream's numeric features and gradient-boosted trees, on a sliding window of ``train_rows`` (the
      periodic baseline's window, so the two differ only in when they retrain and what they promote);
    - the default rules (drift, a performance drop of 3 points of accuracy or of 5% of the target's mean absolute
      deviation in MAE, volume, manual) with a cooldown of two and a half controller cycles and
      no daily budget: a retrain at most every third cycle, so at most a third of periodic's retrains by
      construction (a day of the simulated clock means nothing for a stream without times);
    - the default gate without a first-model floor (a warm-up's holdout is small, and a rejected first model
      would leave nothing to serve);
    - batches that fail validation kept, their findings recorded (history is replayed as it was);
    - a canary at 25% for one cycle, then full traffic (no shadow stage: it would only delay every promotion
      by a cycle here, where the guards already watch the canary)."""
    cycle = window_rows * row_seconds
    if stream.task == "classification":
        max_drop = 0.03  # three points of accuracy
    else:  # MAE is in the target's units: a rise of 5% of the target's mean absolute deviation
        head = stream.y[: train_rows or stream.rows].astype(np.float64)
        max_drop = max(1e-9, 0.05 * float(np.mean(np.abs(head - head.mean()))))
    rules: list[Rule] = [
        Drift(above=0.34),
        PerformanceDrop(max_drop=max_drop, min_rows=min(300, window_rows)),
        Volume(5000),
        Manual(),
    ]
    policy = RetrainPolicy(AnyOf(rules), cooldown=timedelta(seconds=2.5 * cycle), max_per_day=None)
    if stream.task == "classification":
        model: Any = HistGradientBoostingClassifier(random_state=seed)
        gate = Gate(min_effect=0.002)
        plan = RolloutPlan(shadow_s=0.0, canary=(25.0,), bake_s=cycle / 2, bake_requests=10)
    else:
        model = HistGradientBoostingRegressor(random_state=seed)
        gate = Gate(metric="mae", min_effect=0.0)
        plan = RolloutPlan(shadow_s=0.0, canary=(25.0,), bake_s=cycle / 2, bake_requests=10, max_metric_drop=None)
    training = SlidingWindow(rows=train_rows) if train_rows else SlidingWindow(rows=20_000)
    return App(name, source=FileSource("unused/*.parquet"), target=stream.target, model=model,
               features=stream.features, training=training, gate=gate, policy=policy, rollout=plan, seed=seed,
               on_invalid="keep")  # fmt: skip


def run_backtest(
    data: str | Path,
    target: str,
    *,
    app: App | str | Path | None = None,
    config: BacktestConfig | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Replay ``data`` under each policy of ``config``; ``workdir`` keeps ctml's workspace for inspection;
    ``progress(policy, rows done, rows)`` is told how ctml's replay goes."""
    config = config or BacktestConfig()
    spec = load_app(app) if isinstance(app, str | Path) else app
    if spec is not None and spec.target != target:
        raise ConfigError(f"--target {target!r} differs from the app's target {spec.target!r}.")
    stream = load_stream(data, target, features=None if spec is None else spec.features,
                         time=None if spec is None else spec.time, task=config.task, row_seconds=config.row_seconds,
                         every=config.every, limit=config.limit, drop=config.drop)  # fmt: skip
    n = stream.rows
    warmup = max(20, int(n * config.warmup))
    every = config.window_rows or max(50, n // 50)
    if warmup >= n - 1:
        raise ConfigError(f"The warm-up ({warmup} rows) leaves nothing to predict of {n} rows.")
    name = re.sub(r"[^a-z0-9_.-]", "-", Path(data).name.split(".")[0].lower()).strip("-") or "backtest"
    span_rows = max(warmup, n // 10)
    label = name[:60] or "backtest"
    notes = [f"scored on rows {warmup}..{n - 1}; baselines (never, periodic, always, arf) do not go through the "
             "model server or the controller; ctml does"]  # fmt: skip
    batch = batch_app(stream, label, window_rows=every, row_seconds=config.row_seconds, seed=config.seed,
                      train_rows=span_rows)  # fmt: skip
    if spec is not None:
        chosen = spec
    elif importlib.util.find_spec("river") is None:
        chosen = batch
        notes.append("ctml ran without its online candidates: river is not installed (pip install 'ctml[river]')")
    else:
        chosen = default_app(stream, label, window_rows=every, row_seconds=config.row_seconds, seed=config.seed,
                             train_rows=span_rows)  # fmt: skip
    estimator = chosen.model if hasattr(chosen.model, "fit") else batch.model
    span = getattr(chosen.training, "rows", None)
    delay = config.label_delay if config.label_delay_share is None else round(config.label_delay_share * n)
    results: dict[str, PolicyResult] = {}
    with threadpool_limits(limits=1):
        for policy in POLICIES:
            if policy not in config.policies:
                continue
            if policy == "ctml":
                results[policy] = replay_ctml(stream, chosen, warmup=warmup, every=every, delay=delay,
                                              request_rows=config.request_rows, workdir=workdir,
                                              seed=config.seed, progress=progress,
                                              per_request=config.per_request)  # fmt: skip
                if config.bare_cost:
                    results[policy] = _with_bare_cost(results[policy], stream, chosen, warmup, delay)
            elif policy == "ctml_batch":  # the loop as it ran before the tournament: 20-row requests, labels
                # sent once a window, batch refits judged on their holdout and rolled out by canary
                batched = replay_ctml(stream, batch, warmup=warmup, every=every, delay=delay, request_rows=20,
                                    workdir=None if workdir is None else workdir / "batch", seed=config.seed,
                                    labels_per_window=True, progress=progress,
                                    per_request=config.per_request)  # fmt: skip
                results[policy] = replace(batched, name="ctml_batch")
            elif policy == "never":
                results[policy] = refit_every("never", stream, estimator, warmup=warmup, every=0, span=None,
                                              delay=delay)  # fmt: skip
            elif policy == "periodic":
                results[policy] = refit_every("periodic", stream, estimator, warmup=warmup, every=max(50, n // 50),
                                              span=span_rows, delay=delay)  # fmt: skip
            elif policy == "always":
                always_span = span if isinstance(span, int) else None
                same = results.get("periodic")
                if same is not None and every == max(50, n // 50) and always_span == span_rows:
                    # the same schedule on the same rows as periodic (the default window): the same fits, not
                    # computed twice
                    results[policy] = replace(same, name="always", notes=(*same.notes, "the same fits as periodic"))
                else:
                    results[policy] = refit_every("always", stream, estimator, warmup=warmup, every=every,
                                                  span=always_span, delay=delay)  # fmt: skip
            else:
                found = arf(stream, warmup=warmup, delay=delay, seed=config.seed)
                if found is None:
                    notes.append("arf skipped: river is not installed (pip install 'ctml[river]')")
                else:
                    results[policy] = found
    return BacktestResult(str(data), target, stream.task, n, warmup, every, delay, results, tuple(notes))


def _with_bare_cost(result: PolicyResult, stream: Stream, app: App, warmup: int, delay: int) -> PolicyResult:
    online = [c for c in (app.tournament.challengers if app.tournament else ()) if hasattr(c, "learn_one")]
    found = result.details.get("fits")
    fits = [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []
    cost = bare_cost(stream, online, app.model, fits, warmup=warmup, delay=delay)
    details = dict(result.details)
    details["bare_cost"] = {k: round(v, 3) for k, v in cost.items()}
    details["overhead"] = round(result.seconds / cost["total"], 3) if cost["total"] > 0 else None
    return replace(result, details=details)


def rolling(scores: np.ndarray, width: int) -> np.ndarray:
    """The mean of each ``width`` consecutive scores (shorter at the start)."""
    if scores.size == 0:
        return scores
    sums = np.cumsum(np.concatenate([[0.0], scores]))
    idx = np.arange(1, scores.size + 1)
    lo = np.maximum(0, idx - width)
    out: np.ndarray = (sums[idx] - sums[lo]) / (idx - lo)
    return out
