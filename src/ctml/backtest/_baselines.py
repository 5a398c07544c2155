"""The baselines a backtest compares ctml's policy with, on the same rows and the same scoring.

They do not go through the model server or the controller: each fits an estimator on the labelled rows it
may see (a label arrives ``delay`` rows after its row) and predicts the next rows directly.

- ``never``: fit once on the warm-up rows.
- ``periodic``: refit every ``every`` rows on the last ``span`` labelled rows (BASELINES.md: n/50 and n/10).
- ``always``: refit at every window on the last ``span`` labelled rows (the app's sliding window).
- ``arf``: River's adaptive random forest (10 trees), test-then-train row by row, learning each row once its
  label has arrived.

:func:`bare_cost` is what ctml's own candidates cost outside ctml on the same rows: the yardstick of the
replay's overhead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from ctml.backtest._result import Marker, PolicyResult
from ctml.backtest._stream import Stream
from ctml.clock import WallClock

__all__ = ["arf", "bare_cost", "refit_every", "score"]


def score(stream: Stream, start: int, predictions: np.ndarray) -> np.ndarray:
    """1/0 hits (classification) or absolute errors (regression) of ``predictions`` for rows ``start...``."""
    truth = stream.y[start : start + len(predictions)]
    if stream.task == "regression":
        return np.abs(truth.astype(np.float64) - predictions.astype(np.float64))
    return np.array([str(a) == str(b) for a, b in zip(truth, predictions, strict=True)], dtype=np.float64)


def refit_every(
    name: str, stream: Stream, model: Any, *, warmup: int, every: int, span: int | None, delay: int
) -> PolicyResult:
    """Fit ``model`` on the warm-up, then every ``every`` rows on the last ``span`` labelled rows (``every`` 0:
    never refit)."""
    clock = WallClock()
    began = clock.monotonic()
    fitted = clone(model).fit(stream.X[:warmup], _y(stream, 0, warmup))
    parts = []
    markers = []
    i = warmup
    step = every or stream.rows
    while i < stream.rows:
        j = min(i + step, stream.rows)
        parts.append(score(stream, i, fitted.predict(stream.X[i:j])))
        i = j
        if every and i < stream.rows:
            hi = i - delay
            lo = 0 if span is None else max(0, hi - span)
            if hi - lo < 2 or (stream.task == "classification" and len(set(map(str, stream.y[lo:hi]))) < 2):
                continue
            fitted = clone(model).fit(stream.X[lo:hi], _y(stream, lo, hi))
            markers.append(Marker(i, "retrain", f"every {every} rows"))
    scores = np.concatenate(parts) if parts else np.zeros(0)
    return PolicyResult(name, _metric(stream), float(scores.mean()), len(markers), clock.monotonic() - began,
                        scores, tuple(markers))  # fmt: skip


def arf(stream: Stream, *, warmup: int, delay: int, seed: int) -> PolicyResult | None:
    """River's ARF with 10 trees, or None when River is not installed."""
    try:
        from river import forest, preprocessing
    except ImportError:
        return None
    clock = WallClock()
    began = clock.monotonic()
    model: Any
    if stream.task == "classification":
        model = forest.ARFClassifier(n_models=10, seed=seed)
    else:
        model = preprocessing.StandardScaler() | forest.ARFRegressor(n_models=10, seed=seed)
    names = stream.features
    rows = [dict(zip(names, map(float, x), strict=True)) for x in stream.X]
    labels = stream.y.tolist()
    for r in range(warmup):
        model.learn_one(rows[r], labels[r])
    out = np.zeros(stream.rows - warmup)
    learned = warmup
    fallback: Any = 0.0 if stream.task == "regression" else None
    for r in range(warmup, stream.rows):
        p = model.predict_one(rows[r])
        predicted = fallback if p is None else p
        if stream.task == "regression":
            out[r - warmup] = abs(float(labels[r]) - float(predicted))
        else:
            out[r - warmup] = float(str(predicted) == str(labels[r]))
        while learned + delay <= r:
            model.learn_one(rows[learned], labels[learned])
            learned += 1
    note = "river ARF, 10 trees, test-then-train; learns each row when its label arrives"
    return PolicyResult("arf", _metric(stream), float(out.mean()), 0, clock.monotonic() - began, out, notes=(note,))


def bare_cost(
    stream: Stream, online: Sequence[Any], batch: Any, fits: Sequence[Mapping[str, Any]], *, warmup: int, delay: int
) -> dict[str, float]:
    """Seconds ctml's candidates cost outside ctml on the same rows: each ``online`` estimator (a River learner)
    test-then-train on every row (learning the warm-up, then predicting each row and learning each label when
    it arrives), and ``batch`` refitted once per batch fit the policy made (``fits``: the ``rows`` of each fit
    whose ``flavor`` is not River's), on the same rows ``start:stop``. Keys: ``online N``, ``batch fits``,
    ``total``."""
    clock = WallClock()
    names = stream.features
    rows = [dict(zip(names, map(float, x), strict=True)) for x in stream.X]
    labels = stream.y.tolist()
    out: dict[str, float] = {}
    for i, estimator in enumerate(online):
        model = estimator.clone()
        predict = model.predict_proba_one if stream.task == "classification" else model.predict_one
        began = clock.monotonic()
        for r in range(warmup):
            model.learn_one(rows[r], labels[r])
        learned = warmup
        for r in range(warmup, stream.rows):
            predict(rows[r])
            while learned + delay <= r:
                model.learn_one(rows[learned], labels[learned])
                learned += 1
        out[f"online {i}"] = clock.monotonic() - began
    began = clock.monotonic()
    for fit in fits:
        lo, hi = fit.get("start"), fit.get("stop")
        if fit.get("flavor") == "river" or not isinstance(lo, int) or not isinstance(hi, int) or hi - lo < 2:
            continue
        hi = min(hi, stream.rows)
        clone(batch).fit(stream.X[lo:hi], _y(stream, lo, hi))
    out["batch fits"] = clock.monotonic() - began
    out["total"] = sum(out.values())
    return out


def _y(stream: Stream, lo: int, hi: int) -> np.ndarray:
    part = stream.y[lo:hi]
    return part.astype(np.float64) if stream.task == "regression" else part


def _metric(stream: Stream) -> str:
    return "accuracy" if stream.task == "classification" else "mae"
