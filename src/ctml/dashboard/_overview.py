"""The apps overview and one app's page: champion, live metrics, drift, roll-out, decisions, and the charts.

Everything on the time charts shares one time axis: drift per feature and overall, realized performance
placed at the time of the predictions it scores (the observation time minus the label delay), the span whose
labels have not arrived yet shaded, and retrain, promotion and rollback markers from the stored decisions.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ctml.dashboard._charts import PALETTE, Line, Mark, line_chart, sparkline
from ctml.dashboard._queries import Queries, Series
from ctml.meta import Decision

__all__ = ["AppSummary", "app_charts", "marks_for", "next_check", "summarize"]

PERF_KEYS = ("monitor.accuracy", "monitor.mae")
_FIXED = {"monitor.drift.share"}


@dataclass(frozen=True)
class AppSummary:
    name: str
    model: str | None
    champion: int | None
    champion_since: datetime | None
    versions: int
    metric: str | None
    metric_value: float | None
    baseline: float | None
    observed_at: datetime | None
    spark: str
    drift_share: float | None
    drift_tone: str
    prediction_drift: float | None
    label_coverage: float | None
    error_drift: bool
    traffic: tuple[int, int, float, datetime] | None
    rollout: dict[str, Any] | None
    last_decision: Decision | None
    next_check: str
    pending: int


def _stage(state: dict[str, Any], plan: dict[str, Any]) -> str:
    shadow = ["shadow"] if float(plan.get("shadow_s") or 0) > 0 else []
    stages = [*shadow, *(f"canary {float(s):g}%" for s in plan.get("canary") or ()), "full"]
    return stages[min(int(state.get("stage", 0)), len(stages) - 1)]


def rollout_view(found: tuple[dict[str, Any], dict[str, Any], datetime] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    state, plan, updated = found
    return {
        "status": state.get("status"),
        "stage": _stage(state, plan),
        "candidate": state.get("candidate"),
        "previous": state.get("previous"),
        "model": state.get("model"),
        "updated": updated,
        "history": list(state.get("history") or [])[-12:],
        "plan": plan,
    }


def _find(value: Any, key: str) -> Any:
    """The first ``key`` anywhere in a JSON document (depth first)."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        for child in value.values():
            found = _find(child, key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for child in value:
            found = _find(child, key)
            if found is not None:
                return found
    return None


def next_check(queries: Queries, app: str, run_id: str | None) -> str:
    """The schedule rule's next tick when the policy has one; else the last observation plus its usual gap."""
    trigger = queries.last_decision(app, ["trigger"])
    tick = None if trigger is None else _find(trigger.evidence, "next_tick")
    if isinstance(tick, str):
        try:
            return f"{datetime.fromisoformat(tick).astimezone(UTC):%Y-%m-%d %H:%M} UTC (schedule)"
        except ValueError:
            pass
    if run_id is None:
        return "at the controller's next cycle"
    seen = [t for t, _ in queries.recent(run_id, "monitor.rows", 20)]
    if len(seen) < 2:
        return "at the controller's next cycle"
    gap = statistics.median(b - a for a, b in itertools.pairwise(seen))
    at = datetime.fromtimestamp((seen[-1] + gap) / 1000, tz=UTC)
    return f"≈ {at:%Y-%m-%d %H:%M} UTC (every {_span(gap)})"


def _span(ms: float) -> str:
    seconds = ms / 1000
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def summarize(queries: Queries, app: str) -> AppSummary:
    models = queries.app_models(app)
    model = models[0] if models else None
    aliases = queries.aliases(model) if model else {}
    champion = aliases.get("champion")
    since = None
    if model is not None and champion is not None:
        moves = queries.alias_moves(model, limit=1)
        since = datetime.fromtimestamp(moves[0].at_ms / 1000, tz=UTC) if moves else None
    run_id = queries.monitor_run(app)
    latest = queries.latest(run_id) if run_id else {}
    metric = next((k for k in PERF_KEYS if k in latest), None)
    share = latest.get("monitor.drift.share", (None, None))[0]
    tone = "none" if share is None else "ok" if share == 0 else "warn" if share < 0.5 else "bad"
    observed = max((at for _, at in latest.values()), default=None)
    spark = sparkline(queries.recent(run_id, metric, 60)) if run_id and metric else ""
    versions = 0
    if model is not None:
        versions = next((n for name, _, n in queries.models() if name == model), 0)
    return AppSummary(
        name=app,
        model=model,
        champion=champion,
        champion_since=since,
        versions=versions,
        metric=None if metric is None else metric.removeprefix("monitor."),
        metric_value=None if metric is None else latest[metric][0],
        baseline=latest.get("monitor.baseline", (None, None))[0],
        observed_at=observed,
        spark=spark,
        drift_share=share,
        drift_tone=tone,
        prediction_drift=latest.get("monitor.prediction_drift", (None, None))[0],
        label_coverage=latest.get("monitor.label_coverage", (None, None))[0],
        error_drift=latest.get("monitor.error_drift", (0.0, None))[0] == 1.0,
        traffic=queries.traffic(app),
        rollout=rollout_view(queries.rollout(app)),
        last_decision=queries.last_decision(app),
        next_check=next_check(queries, app, run_id),
        pending=len(queries.pending(app)),
    )


def _label(d: Decision) -> tuple[str, str]:
    if d.kind == "trigger":
        return "retrain", f"retrain: {d.summary}"
    if d.kind == "approval":
        return "approved", d.summary
    if d.kind == "promotion":
        return "promote", d.summary
    if d.kind == "rollback":
        return "rollback", d.summary
    return d.outcome, f"{d.kind} {d.outcome}: {d.summary}"


def marks_for(decisions: list[Decision]) -> list[Mark]:
    """Chart markers for the decisions (roll-out starts are left out: the gate's promote marks them)."""
    out = []
    for d in decisions:
        if d.kind == "rollout" and d.outcome == "start":
            continue
        kind, label = _label(d)
        out.append(Mark(int(d.created_at.timestamp() * 1000), kind, f"{d.created_at:%Y-%m-%d %H:%M} — {label[:160]}"))
    return out


def app_charts(queries: Queries, app: str) -> dict[str, Any]:
    """The app page's charts (SVG) and the label delay they show."""
    run_id = queries.monitor_run(app)
    marks = marks_for(queries.markers(app))
    if run_id is None:
        empty = line_chart([], title="No observations yet", y_label="")
        return {"drift": empty, "features": empty, "performance": empty, "delay": None, "features_n": 0}
    series = {
        s.key: s
        for s in queries.series(
            run_id,
            [*PERF_KEYS, "monitor.baseline", "monitor.prediction_drift", "monitor.label_coverage"],
            prefix="monitor.drift.",
            limit=300,
        )
    }
    delay = queries.label_delay_ms(app) or 0.0
    x_range = _time_range(series, marks)
    features = [s for k, s in series.items() if k.startswith("monitor.drift.") and k not in _FIXED]
    feature_lines = [
        Line(s.key.removeprefix("monitor.drift."), PALETTE[i % len(PALETTE)], s.points, width=1.4)
        for i, s in enumerate(features)
    ]
    overall = [Line("drifted share of features", "#cf222e", _pts(series, "monitor.drift.share"), width=2.4)]
    if "monitor.prediction_drift" in series:
        overall.append(Line("prediction drift (JS)", "#8250df", _pts(series, "monitor.prediction_drift"), dashed=True))
    metric = next((k for k in PERF_KEYS if k in series), None)
    perf: list[Line] = []
    shade = None
    if metric is not None:
        name = metric.removeprefix("monitor.")
        # The realized metric scores the predictions of the window one label delay back: plot it there.
        shifted = [(int(t - delay), v) for t, v in series[metric].points]
        perf.append(Line(f"{name} (at prediction time)", "#0969da", shifted, width=2.2))
        if "monitor.baseline" in series:
            perf.append(Line(f"{name} on holdout (baseline)", "#6e7781", _pts(series, "monitor.baseline"), dashed=True))
        if x_range is not None and delay > 0:
            shade = (int(x_range[1] - delay), x_range[1], f"labels pending ({_span(delay)} delay)")
        if shifted and x_range is not None:
            x_range = (min(x_range[0], shifted[0][0]), x_range[1])
    return {
        "drift": line_chart(
            overall,
            title="Overall drift",
            y_label="share / JS distance",
            marks=marks,
            x_range=x_range,
            y_range=_unit(overall),
        ),
        "features": line_chart(
            feature_lines,
            title="Drift per feature (test statistic)",
            y_label="statistic",
            marks=marks,
            x_range=x_range,
            legend_marks=False,
        ),
        "performance": line_chart(
            perf,
            title="Realized performance, placed at prediction time",
            y_label=metric or "",
            marks=marks,
            shade=shade,
            x_range=x_range,
        ),
        "delay": _span(delay) if delay else None,
        "features_n": len(features),
    }


def _time_range(series: dict[str, Series], marks: list[Mark]) -> tuple[int, int] | None:
    """The observations' span, stretched to take in marks a little past either end (a retrain after the last
    look), but not so far that one stray decision squeezes the whole history into a sliver."""
    times = [t for s in series.values() for t, _ in s.points]
    if not times:
        return None
    lo, hi = min(times), max(times)
    slack = max((hi - lo) // 8, 1)
    near = [m.at_ms for m in marks if lo - slack <= m.at_ms <= hi + slack]
    return min([lo, *near]), max([hi, *near])


def _pts(series: dict[str, Series], key: str) -> list[tuple[int, float]]:
    found = series.get(key)
    return [] if found is None else found.points


def _unit(lines: list[Line]) -> tuple[float, float] | None:
    values = [v for line in lines for _, v in line.points]
    return (0.0, max(1.0, max(values, default=1.0))) if values else None


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    delta = now - moment
    if delta < timedelta(0):
        return f"{moment:%Y-%m-%d %H:%M}"
    return f"{_span(delta.total_seconds() * 1000)} ago"
