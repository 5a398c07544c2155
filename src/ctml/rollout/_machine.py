"""The roll-out state machine, as pure functions: a state, the stage's measurements, the time -> the next state.

    start -> shadow -> canary 5% -> canary 25% -> canary 50% -> full -> completed
               \\__________\\______________\\_____________\\________\\___> rolled_back (a guard breached)

The last stage, full, is held and guarded like the others (blue/green is a plan with only that stage:
the switch is one move, and a breach in its bake window switches back). A stage ends when it has been held
for its bake time *and* the candidate has served its bake requests (a shadow stage counts the copies it
answered). At every step the guards are checked first: error rate, p99
latency, the live metric on labelled feedback against the champion's on the same window, and prediction
drift against the champion. The first breached guard rolls back; the decision carries every guard's numbers.

Persisting the state, moving the route table and the registry alias, and measuring the stage are the
caller's (:class:`~ctml.rollout.Rollouts`); this module decides only, so it is replayed exactly by a backtest.

>>> from datetime import datetime, timedelta, UTC
>>> plan = RolloutPlan(shadow_s=0, canary=(10,), bake_s=60, bake_requests=100, max_error_rate=0.05)
>>> t0 = datetime(2026, 3, 1, tzinfo=UTC)
>>> state = start(plan, "elec2", "elec2", candidate=2, previous=1, now=t0)
>>> state.stage_name(plan), routes_for(plan, state)["canary"]
('canary 10%', {'ref': 'v2', 'percent': 10.0})
>>> state, decision = step(plan, state, StageStats(requests=150, errors=1), t0 + timedelta(seconds=90))
>>> decision.outcome, state.stage_name(plan), routes_for(plan, state)["champion"]
('advance', 'full', 'v2')
>>> state, decision = step(plan, state, StageStats(requests=150, errors=0), t0 + timedelta(seconds=180))
>>> decision.outcome, state.status
('complete', 'completed')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ctml.errors import ConfigError
from ctml.rollout._plan import RolloutPlan
from ctml.types import JSON, JSONObject

__all__ = ["GuardCheck", "RolloutDecision", "RolloutState", "StageStats", "guards", "routes_for", "start", "step"]

ACTIVE, COMPLETED, ROLLED_BACK = "active", "completed", "rolled_back"
_Z99 = 2.3263478740408408  # the one-sided 99% normal quantile: a guard is checked at every step, so be sure


@dataclass(frozen=True)
class StageStats:
    """What the candidate did during the current stage (from the prediction log and feedback).

    ``candidate_metric`` and ``champion_metric`` are the live metric of each on the same labelled window;
    ``prediction_drift`` a distance between their prediction distributions, in [0, 1].
    """

    requests: int = 0
    errors: int = 0
    p99_ms: float | None = None
    candidate_metric: float | None = None
    champion_metric: float | None = None
    labelled: int = 0
    higher_is_better: bool = True
    prediction_drift: float | None = None
    metric_se: float | None = None
    """The standard error of candidate minus champion metric: the two are measured on different requests."""

    def to_json(self) -> JSONObject:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p99_ms": self.p99_ms,
            "candidate_metric": self.candidate_metric,
            "champion_metric": self.champion_metric,
            "labelled": self.labelled,
            "prediction_drift": self.prediction_drift,
            "metric_se": self.metric_se,
        }

    @property
    def error_rate(self) -> float | None:
        return None if self.requests == 0 else self.errors / self.requests


@dataclass(frozen=True)
class GuardCheck:
    name: str
    status: str  # passed | breached | waiting (too little evidence yet) | off
    value: float | None
    limit: float | None
    detail: str

    def to_json(self) -> JSONObject:
        return {
            "name": self.name,
            "status": self.status,
            "value": self.value,
            "limit": self.limit,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RolloutState:
    """Where one roll-out is: the candidate version, the champion it replaces, the stage and when it began."""

    app: str
    model: str
    candidate: int
    previous: int | None
    stage: int
    stage_started: datetime
    status: str = ACTIVE
    history: tuple[JSONObject, ...] = field(default_factory=tuple)

    def stage_name(self, plan: RolloutPlan) -> str:
        return plan.stages[min(self.stage, len(plan.stages) - 1)]

    def to_json(self) -> JSONObject:
        return {
            "app": self.app,
            "model": self.model,
            "candidate": self.candidate,
            "previous": self.previous,
            "stage": self.stage,
            "stage_started": self.stage_started.isoformat(),
            "status": self.status,
            "history": list(self.history),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RolloutState:
        try:
            return cls(
                app=str(data["app"]),
                model=str(data["model"]),
                candidate=int(data["candidate"]),
                previous=None if data.get("previous") is None else int(data["previous"]),
                stage=int(data["stage"]),
                stage_started=datetime.fromisoformat(str(data["stage_started"])),
                status=str(data.get("status", ACTIVE)),
                history=tuple(data.get("history", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"A stored roll-out state is malformed ({exc}): {data!r}") from None


@dataclass(frozen=True)
class RolloutDecision:
    """``hold``, ``advance`` (to the next stage; ``complete`` when it reaches full) or ``rollback``."""

    outcome: str
    reason: str
    evidence: JSONObject


def start(
    plan: RolloutPlan, app: str, model: str, *, candidate: int, previous: int | None, now: datetime
) -> RolloutState:
    """A new roll-out of ``candidate`` replacing ``previous`` (None: there is no champion to protect)."""
    if now.tzinfo is None:
        raise ConfigError(f"A roll-out's time must be timezone-aware (UTC). Got {now!r}.")
    if previous is None:
        entry: JSONObject = {"at": now.isoformat(), "event": "complete", "stage": "full", "why": "first model"}
        return RolloutState(app, model, candidate, None, len(plan.stages) - 1, now, COMPLETED, (entry,))
    entry = {"at": now.isoformat(), "event": "start", "stage": plan.stages[0]}
    return RolloutState(app, model, candidate, previous, 0, now, ACTIVE, (entry,))


def guards(plan: RolloutPlan, stats: StageStats) -> list[GuardCheck]:
    """Every guard of ``plan`` on ``stats``; a guard waits until it has ``guard_min`` observations."""
    least = plan.guard_min
    out: list[GuardCheck] = []
    rate = stats.error_rate
    if rate is None or stats.requests < least:
        out.append(
            GuardCheck("error_rate", "waiting", rate, plan.max_error_rate, f"{stats.requests} of {least} requests")
        )
    else:
        breached = rate > plan.max_error_rate
        out.append(GuardCheck("error_rate", "breached" if breached else "passed", rate, plan.max_error_rate,
                              f"{stats.errors} errors in {stats.requests} requests ({rate:.1%})"))  # fmt: skip
    if plan.max_p99_ms is None:
        out.append(GuardCheck("p99_latency", "off", stats.p99_ms, None, "no limit set"))
    elif stats.p99_ms is None or stats.requests < least:
        out.append(GuardCheck("p99_latency", "waiting", stats.p99_ms, plan.max_p99_ms, f"{stats.requests} requests"))
    else:
        breached = stats.p99_ms > plan.max_p99_ms
        out.append(GuardCheck("p99_latency", "breached" if breached else "passed", stats.p99_ms, plan.max_p99_ms,
                              f"p99 {stats.p99_ms:.1f} ms (limit {plan.max_p99_ms:g} ms)"))  # fmt: skip
    if plan.max_metric_drop is None:
        out.append(GuardCheck("live_metric", "off", None, None, "no limit set"))
    elif stats.candidate_metric is None or stats.champion_metric is None or stats.labelled < least:
        out.append(GuardCheck("live_metric", "waiting", None, plan.max_metric_drop, f"{stats.labelled} labelled rows"))
    else:
        drop = stats.champion_metric - stats.candidate_metric
        drop = drop if stats.higher_is_better else -drop
        # The two sides saw different requests: roll back only when the drop is past the limit by more than
        # chance explains (the one-sided 99% lower bound of the drop, when its standard error is known).
        bound = drop - _Z99 * stats.metric_se if stats.metric_se is not None else drop
        breached = bound > plan.max_metric_drop
        sure = "" if stats.metric_se is None else f", lower bound {bound:+.4f}"
        detail = (
            f"candidate {stats.candidate_metric:.4f} vs champion {stats.champion_metric:.4f} on {stats.labelled} "
            f"labelled rows (drop {drop:+.4f}{sure}, limit {plan.max_metric_drop:g})"
        )
        out.append(GuardCheck("live_metric", "breached" if breached else "passed", drop, plan.max_metric_drop, detail))
    if plan.max_prediction_drift is None:
        out.append(GuardCheck("prediction_drift", "off", stats.prediction_drift, None, "no limit set"))
    elif stats.prediction_drift is None:
        out.append(GuardCheck("prediction_drift", "waiting", None, plan.max_prediction_drift, "not measured yet"))
    else:
        breached = stats.prediction_drift > plan.max_prediction_drift
        out.append(GuardCheck("prediction_drift", "breached" if breached else "passed", stats.prediction_drift,
                              plan.max_prediction_drift, f"distance {stats.prediction_drift:.3f}"))  # fmt: skip
    return out


def step(
    plan: RolloutPlan, state: RolloutState, stats: StageStats, now: datetime
) -> tuple[RolloutState, RolloutDecision]:
    """The next state of an active roll-out, given what its current stage measured so far."""
    stage = state.stage_name(plan)
    checks = guards(plan, stats)
    evidence: JSONObject = {
        "stage": stage,
        "candidate": state.candidate,
        "previous": state.previous,
        "stats": stats.to_json(),
        "guards": [c.to_json() for c in checks],
        "held_s": (now - state.stage_started).total_seconds(),
    }
    if state.status != ACTIVE:
        return state, RolloutDecision("hold", f"the roll-out of v{state.candidate} is {state.status}", evidence)
    breached = [c for c in checks if c.status == "breached"]
    if breached:
        reason = f"rolled back v{state.candidate} at {stage}: {breached[0].name} breached ({breached[0].detail})"
        entry: JSONObject = {"at": now.isoformat(), "event": "rollback", "stage": stage, "guard": breached[0].name}
        return replace(state, status=ROLLED_BACK, history=(*state.history, entry)), RolloutDecision(
            "rollback", reason, evidence
        )
    bake = plan.shadow_s if stage == "shadow" else plan.bake_s
    held = (now - state.stage_started).total_seconds()
    if held < bake or stats.requests < plan.bake_requests:
        reason = (
            f"holding v{state.candidate} at {stage}: {held:.0f} of {bake:.0f} s, "
            f"{stats.requests} of {plan.bake_requests} requests"
        )
        return state, RolloutDecision("hold", reason, evidence)
    nxt = state.stage + 1
    if nxt >= len(plan.stages):
        entry = {"at": now.isoformat(), "event": "complete", "stage": stage}
        done = replace(state, status=COMPLETED, history=(*state.history, entry))
        reason = (
            f"v{state.candidate} held full traffic for {held:.0f} s and {stats.requests} requests: roll-out complete"
        )
        return done, RolloutDecision("complete", reason, evidence)
    entry = {"at": now.isoformat(), "event": "advance", "from": stage, "to": plan.stages[nxt]}
    advanced = replace(state, stage=nxt, stage_started=now, history=(*state.history, entry))
    reason = f"v{state.candidate} passed {stage} ({held:.0f} s, {stats.requests} requests): now {plan.stages[nxt]}"
    outcome = "advance"
    return advanced, RolloutDecision(outcome, reason, evidence)


def routes_for(plan: RolloutPlan, state: RolloutState, *, alias: str | None = None) -> JSONObject:
    """The serving route table for ``state`` (the format of :class:`ctml.serve.RouteSpec`).

    Versions are named ``v3``. With ``alias``, whoever serves as champion is named by the alias instead, for
    a caller that keeps the alias on the serving champion (it moves at the full stage, and back on a rollback).
    """
    candidate, previous = f"v{state.candidate}", None if state.previous is None else f"v{state.previous}"
    stage = state.stage_name(plan)
    if state.status == ROLLED_BACK or (previous is None and state.status != COMPLETED):
        champion: JSON = alias or previous or candidate
        return {"champion": champion, "canary": None, "shadow": None}
    if state.status == COMPLETED or stage == "full":
        return {"champion": alias or candidate, "canary": None, "shadow": None}
    if stage == "shadow":
        return {"champion": alias or previous, "canary": None, "shadow": candidate}
    percent = plan.canary[state.stage - (1 if plan.shadow_s > 0 else 0)]
    return {"champion": alias or previous, "canary": {"ref": candidate, "percent": percent}, "shadow": None}
