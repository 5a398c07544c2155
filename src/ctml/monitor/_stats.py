"""One version's traffic on one route over a time span: requests, errors, p99 latency and the live metric.

This is what the roll-out guards read for a stage (:class:`ctml.rollout.StageStats`): the candidate measured
on its route (``shadow`` or ``canary``, or ``champion`` once it serves all traffic), the champion on its
own, over the same span, so the two live metrics are comparable.

Counting: ``requests`` and ``errors`` count predictions (a batch of n rows is n), so the error rate is the
share of predictions that failed; ``p99_ms`` is the 99th percentile of the logged requests' latencies (one
value per request: the rows of a batch share it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from ctml.drift import prediction_drift
from ctml.errors import ConfigError
from ctml.meta import LabeledPrediction, MetaStore
from ctml.monitor._window import METRIC_OF, Task, predictions_table, read, realized, realized_se, task_of
from ctml.types import JSONObject

if TYPE_CHECKING:
    from ctml.rollout import StageStats

__all__ = ["RouteStats", "route_stats", "stage_stats"]


@dataclass(frozen=True)
class RouteStats:
    """What one version did on one route in ``[start, end)``; the field names are :class:`StageStats`'s."""

    app: str
    version: int
    route: str | None
    start: datetime
    end: datetime
    requests: int
    errors: int
    p99_ms: float | None
    metric: str
    live_metric: float | None
    labelled: int
    higher_is_better: bool

    @property
    def error_rate(self) -> float | None:
        return None if self.requests == 0 else self.errors / self.requests

    def to_json(self) -> JSONObject:
        return {
            "app": self.app,
            "version": self.version,
            "route": self.route,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p99_ms": self.p99_ms,
            "metric": self.metric,
            "live_metric": self.live_metric,
            "labelled": self.labelled,
            "higher_is_better": self.higher_is_better,
        }


def route_stats(
    meta: MetaStore,
    app: str,
    version: int,
    start: datetime,
    end: datetime,
    *,
    route: str | None = None,
    task: Task | None = None,
    max_rows: int = 100_000,
) -> RouteStats:
    """Measure ``version`` of ``app`` on ``route`` (None: every route it served) in ``[start, end)``.

    The live metric (accuracy, or MAE for a regression) is computed on the rows whose label has arrived.
    """
    records = read(meta, app, start, end, version=version, route=route, max_rows=max_rows)
    return _measure(app, version, route, start, end, records, task)


def stage_stats(
    meta: MetaStore,
    app: str,
    candidate: int,
    champion: int | None,
    start: datetime,
    end: datetime,
    *,
    candidate_route: str | None = None,
    task: Task | None = None,
    max_rows: int = 100_000,
) -> StageStats:
    """The roll-out's :class:`~ctml.rollout.StageStats` of a stage: the candidate's traffic, its live metric
    and the champion's on the same span, and the Jensen-Shannon distance (in [0, 1]) between their
    prediction distributions (None while either side has no prediction)."""
    # Imported here: the roll-out measures its stages through this module, so a module-level import of
    # ctml.rollout would make the two packages import each other at load time.
    from ctml.rollout import StageStats

    if champion is not None and champion == candidate:
        raise ConfigError(f"stage_stats needs two different versions; got candidate = champion = {candidate}.")
    records = read(meta, app, start, end, max_rows=max_rows)
    mine = [r for r in records if r.prediction.version == candidate and _on(r, candidate_route)]
    theirs = [r for r in records if champion is not None and r.prediction.version == champion]
    kind = task or task_of(records)
    mine = _shadow_labels(mine, theirs)
    cand = _measure(app, candidate, candidate_route, start, end, mine, kind)
    champ = _measure(app, champion, None, start, end, theirs, kind) if champion is not None else None
    se: float | None = None
    if champ is not None:
        measured = kind or task_of(mine)
        parts = [realized_se(mine, measured), realized_se(theirs, measured)]
        if all(part is not None for part in parts):
            se = math.sqrt(sum(part**2 for part in parts if part is not None))
    drift: float | None = None
    ours, others = predictions_table(mine), predictions_table(theirs)
    if ours.num_rows and others.num_rows:
        drift = prediction_drift(others, ours, test="jensenshannon").statistic
    return StageStats(
        requests=cand.requests,
        errors=cand.errors,
        p99_ms=cand.p99_ms,
        candidate_metric=cand.live_metric,
        champion_metric=None if champ is None else champ.live_metric,
        labelled=cand.labelled,
        higher_is_better=cand.higher_is_better,
        prediction_drift=drift,
        metric_se=se,
    )


def _shadow_labels(mine: list[LabeledPrediction], theirs: list[LabeledPrediction]) -> list[LabeledPrediction]:
    """A shadow's answers get the labels of the champion predictions they shadow: labels come back for the ids
    the caller was given, which are the champion's."""
    labels = {r.prediction.id: r for r in theirs if r.label is not None}
    out = []
    for r in mine:
        output = r.prediction.output
        shadowed = output.get("shadow_of") if isinstance(output, dict) and r.label is None else None
        source = labels.get(shadowed) if isinstance(shadowed, str) else None
        out.append(r if source is None else LabeledPrediction(r.prediction, source.label, source.labeled_at))
    return out


def _on(record: LabeledPrediction, route: str | None) -> bool:
    return route is None or record.prediction.route == route


def _measure(
    app: str,
    version: int,
    route: str | None,
    start: datetime,
    end: datetime,
    records: Sequence[LabeledPrediction],
    task: Task | None,
) -> RouteStats:
    kind = task or task_of(records)
    metric, higher = METRIC_OF[kind]
    errors = sum(1 for r in records if isinstance(r.prediction.output, dict) and "error" in r.prediction.output)
    latencies: dict[str, float] = {}
    for r in records:  # one latency per request: its rows share the id before the "-"
        latencies.setdefault(r.prediction.id.rpartition("-")[0], r.prediction.latency_ms)
    p99 = float(np.percentile(list(latencies.values()), 99)) if latencies else None
    value, labelled = realized(records, kind)
    return RouteStats(app, version, route, start, end, len(records), errors, p99, metric, value, labelled, higher)
