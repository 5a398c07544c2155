"""Trigger rules: each looks at an observation (and its own small memory) and says whether it fires, and why.

A rule never decides alone: :class:`~ctml.triggers.RetrainPolicy` combines the rules that fired with its
cooldown and daily budget. So a rule's ``check`` only reads; ``acted`` is called when a retrain did start,
which is when a rule with hysteresis disarms (drift must fall below its re-arm level before it can fire
again; a suppressed firing keeps it armed, so a drift that outlasts a cooldown is acted on afterwards).

>>> from datetime import datetime, UTC
>>> now = datetime(2026, 3, 1, 12, tzinfo=UTC)
>>> rule = Drift(above=0.3, rearm_below=0.1)
>>> fired = rule.check(Observation(now, drift_score=0.5, drifted_features=("nswprice",)), {})
>>> fired.fired, fired.reason
(True, 'drift: 50% of features drifted (>= 30%): nswprice')
>>> rule.check(Observation(now, drift_score=0.5), rule.acted(Observation(now, drift_score=0.5), {})).fired
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from ctml.errors import ConfigError
from ctml.triggers._observation import Observation
from ctml.types import JSON, JSONObject

__all__ = ["AllOf", "AnyOf", "CodeChange", "Drift", "Firing", "Manual", "PerformanceDrop", "Rule", "Schedule", "Volume"]


@dataclass(frozen=True)
class Firing:
    """A rule's answer: whether it fires, a one-line reason, the numbers behind it, and its memory to keep."""

    rule: str
    fired: bool
    reason: str
    evidence: JSONObject = field(default_factory=dict)
    memory: JSONObject = field(default_factory=dict)
    manual: bool = False

    def to_json(self) -> JSONObject:
        return {"rule": self.rule, "fired": self.fired, "reason": self.reason, "evidence": self.evidence}


@runtime_checkable
class Rule(Protocol):
    """One reason to retrain. ``name`` keys its memory in the policy's state."""

    @property
    def name(self) -> str: ...

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing: ...

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject: ...


def _number(owner: str, name: str, value: object, *, low: float, high: float | None = None) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= low
    if ok and high is not None:
        ok = value <= high  # type: ignore[operator]
    if not ok:
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"The '{name}' parameter of {owner} must be a number {bound}. Got {value!r} instead.")


@dataclass(frozen=True)
class Schedule:
    """Fires when a tick of the cron expression (UTC, five fields) has passed since the last retrain.

    >>> from datetime import datetime, UTC
    >>> nightly = Schedule("0 3 * * *")
    >>> memory = nightly.check(Observation(datetime(2026, 3, 1, 12, tzinfo=UTC)), {}).memory
    >>> nightly.check(Observation(datetime(2026, 3, 2, 2, tzinfo=UTC)), memory).fired
    False
    >>> nightly.check(Observation(datetime(2026, 3, 2, 3, 5, tzinfo=UTC)), memory).reason
    'schedule: tick 2026-03-02T03:00:00+00:00 of "0 3 * * *" passed'
    """

    cron: str
    name: str = "schedule"

    def __post_init__(self) -> None:
        from croniter import croniter

        if not isinstance(self.cron, str) or len(self.cron.split()) != 5 or not croniter.is_valid(self.cron):
            raise ConfigError(
                f"The 'cron' parameter of Schedule must be a five-field cron expression such as '0 3 * * *' "
                f"(minute hour day month weekday, UTC). Got {self.cron!r} instead."
            )

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing:
        from croniter import croniter

        since_text = memory.get("since")
        if not isinstance(since_text, str):
            # The first look starts the schedule; a policy that has just been deployed does not retrain at once.
            return Firing(self.name, False, "schedule: started", memory={"since": obs.at.isoformat()})
        since = datetime.fromisoformat(since_text)
        tick: datetime = croniter(self.cron, since).get_next(datetime).astimezone(UTC)
        evidence: JSONObject = {"cron": self.cron, "since": since_text, "next_tick": tick.isoformat()}
        if tick <= obs.at:
            reason = f'schedule: tick {tick.isoformat()} of "{self.cron}" passed'
            return Firing(self.name, True, reason, evidence, dict(memory))
        return Firing(self.name, False, f"schedule: next tick {tick.isoformat()}", evidence, dict(memory))

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject:
        return {"since": obs.at.isoformat()}


@dataclass(frozen=True)
class Volume:
    """Fires once ``min_rows`` new labelled rows have arrived since the champion was trained."""

    min_rows: int
    name: str = "volume"

    def __post_init__(self) -> None:
        if not isinstance(self.min_rows, int) or isinstance(self.min_rows, bool) or self.min_rows < 1:
            raise ConfigError(f"The 'min_rows' parameter of Volume must be an int >= 1. Got {self.min_rows!r} instead.")

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing:
        fired = obs.new_rows >= self.min_rows
        sign = ">=" if fired else "<"
        reason = f"volume: {obs.new_rows:,} new labelled rows ({sign} {self.min_rows:,})"
        return Firing(self.name, fired, reason, {"new_rows": obs.new_rows, "min_rows": self.min_rows}, dict(memory))

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject:
        return dict(memory)


@dataclass(frozen=True)
class Drift:
    """Fires when the drifted share of features reaches ``above``; after a retrain it stays quiet until the
    share falls below ``rearm_below`` (hysteresis: a drift hovering at the line does not retrain each look)."""

    above: float = 0.3
    rearm_below: float | None = None
    name: str = "drift"

    def __post_init__(self) -> None:
        _number("Drift", "above", self.above, low=0.0, high=1.0)
        if self.rearm_below is not None:
            _number("Drift", "rearm_below", self.rearm_below, low=0.0, high=self.above)

    @property
    def rearm(self) -> float:
        return self.above / 2 if self.rearm_below is None else self.rearm_below

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing:
        armed = bool(memory.get("armed", True))
        score = obs.drift_score
        if score is None:
            return Firing(self.name, False, "drift: not measured yet", {}, {"armed": armed})
        if not armed and score < self.rearm:
            armed = True
        evidence: JSONObject = {
            "drift_score": score,
            "above": self.above,
            "rearm_below": self.rearm,
            "armed": armed,
            "drifted_features": list(obs.drifted_features),
        }
        features = f": {', '.join(obs.drifted_features)}" if obs.drifted_features else ""
        if armed and score >= self.above:
            return Firing(self.name, True, f"drift: {score:.0%} of features drifted (>= {self.above:.0%}){features}",
                          evidence, {"armed": True})  # fmt: skip
        why = "disarmed until it falls below" if not armed else "below"
        limit = self.rearm if not armed else self.above
        return Firing(self.name, False, f"drift: {score:.0%} ({why} {limit:.0%})", evidence, {"armed": armed})

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject:
        score = obs.drift_score
        return {"armed": score is None or score < self.rearm}


@dataclass(frozen=True)
class PerformanceDrop:
    """Fires when the champion's realized metric fell more than ``max_drop`` below its baseline, measured on
    at least ``min_rows`` labelled rows; re-arms once the drop is back within ``rearm_within``, or when there is
    no measurement to judge (a new champion's first rows)."""

    max_drop: float = 0.05
    min_rows: int = 200
    rearm_within: float | None = None
    name: str = "performance"

    def __post_init__(self) -> None:
        _number("PerformanceDrop", "max_drop", self.max_drop, low=0.0)
        if not isinstance(self.min_rows, int) or isinstance(self.min_rows, bool) or self.min_rows < 1:
            raise ConfigError(
                f"The 'min_rows' parameter of PerformanceDrop must be an int >= 1. Got {self.min_rows!r} instead."
            )
        if self.rearm_within is not None:
            _number("PerformanceDrop", "rearm_within", self.rearm_within, low=0.0, high=self.max_drop)

    @property
    def rearm(self) -> float:
        return self.max_drop / 2 if self.rearm_within is None else self.rearm_within

    def _drop(self, obs: Observation) -> float | None:
        if obs.performance is None or obs.baseline is None or obs.labelled_rows < self.min_rows:
            return None
        delta = obs.baseline - obs.performance
        return delta if obs.higher_is_better else -delta

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing:
        armed = bool(memory.get("armed", True))
        drop = self._drop(obs)
        if drop is None:
            # nothing measured (a new champion's first rows, or no baseline): the next measurement starts afresh
            reason = f"performance: fewer than {self.min_rows} labelled rows, or no baseline yet"
            return Firing(self.name, False, reason, {"labelled_rows": obs.labelled_rows}, {"armed": True})
        if not armed and drop <= self.rearm:
            armed = True
        evidence: JSONObject = {
            "metric": obs.metric,
            "performance": obs.performance,
            "baseline": obs.baseline,
            "drop": drop,
            "max_drop": self.max_drop,
            "labelled_rows": obs.labelled_rows,
            "armed": armed,
        }
        text = f"{obs.metric} {obs.performance:.4f} vs baseline {obs.baseline:.4f} on {obs.labelled_rows:,} rows"
        if armed and drop > self.max_drop:
            return Firing(self.name, True, f"performance: {text} (drop {drop:.4f} > {self.max_drop})", evidence,
                          {"armed": True})  # fmt: skip
        return Firing(self.name, False, f"performance: {text} (drop {drop:.4f})", evidence, {"armed": armed})

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject:
        drop = self._drop(obs)
        return {"armed": drop is None or drop <= self.rearm}


@dataclass(frozen=True)
class Manual:
    """Fires on an operator's request (CLI, API or an outside "retrain" event). Manual requests pass the
    policy's cooldown and budget: a person asked, and the decision records who and why."""

    name: str = "manual"

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing:
        if not obs.manual:
            return Firing(self.name, False, "manual: no request", memory=dict(memory))
        asked = "; ".join(f"{m.actor}: {m.reason}" for m in obs.manual)
        evidence: JSONObject = {"requests": [{"id": m.id, "actor": m.actor, "reason": m.reason} for m in obs.manual]}
        return Firing(self.name, True, f"manual: {asked}", evidence, dict(memory), manual=True)

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject:
        return dict(memory)


@dataclass(frozen=True)
class CodeChange:
    """Fires when the training pipeline's code differs from the code that trained the champion (the CI/CD
    track: a new pipeline version retrains and its model goes through the same gate). It fires once per new
    fingerprint, so a challenger the gate rejected is not retrained over and over."""

    name: str = "code"

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing:
        now, trained = obs.pipeline_fingerprint, obs.champion_fingerprint
        evidence: JSONObject = {"pipeline": now, "champion": trained, "tried": memory.get("tried")}
        if now is None or trained is None or now == trained:
            return Firing(self.name, False, "code: unchanged", evidence, dict(memory))
        if memory.get("tried") == now:
            return Firing(self.name, False, f"code: {now[:12]} already tried", evidence, dict(memory))
        reason = f"code: pipeline {now[:12]} differs from the champion's {trained[:12]}"
        return Firing(self.name, True, reason, evidence, dict(memory))

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject:
        return {"tried": obs.pipeline_fingerprint}


def _children_memory(memory: Mapping[str, JSON], name: str) -> Mapping[str, JSON]:
    value = memory.get(name)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class AnyOf:
    """Fires when any of its rules fires (the default way to combine triggers)."""

    rules: Sequence[Rule]
    name: str = "any"

    def __post_init__(self) -> None:
        _check_children("AnyOf", self.rules)

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing:
        return _combine(self.name, self.rules, obs, memory, any)

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject:
        return {r.name: r.acted(obs, _children_memory(memory, r.name)) for r in self.rules}


@dataclass(frozen=True)
class AllOf:
    """Fires only when all of its rules fire (for example: drift *and* enough new labelled rows to learn from)."""

    rules: Sequence[Rule]
    name: str = "all"

    def __post_init__(self) -> None:
        _check_children("AllOf", self.rules)

    def check(self, obs: Observation, memory: Mapping[str, JSON]) -> Firing:
        return _combine(self.name, self.rules, obs, memory, all)

    def acted(self, obs: Observation, memory: Mapping[str, JSON]) -> JSONObject:
        return {r.name: r.acted(obs, _children_memory(memory, r.name)) for r in self.rules}


def _check_children(owner: str, rules: Sequence[Rule]) -> None:
    if not rules or not all(isinstance(r, Rule) for r in rules):
        raise ConfigError(f"{owner} needs at least one rule (Schedule, Volume, Drift, ...). Got {rules!r}.")
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ConfigError(f"The rules of {owner} need distinct names (name=...). Got {names}.")


def _combine(name: str, rules: Sequence[Rule], obs: Observation, memory: Mapping[str, JSON], how: object) -> Firing:
    firings = [r.check(obs, _children_memory(memory, r.name)) for r in rules]
    fired = any(f.fired for f in firings) if how is any else all(f.fired for f in firings)
    reasons = [f.reason for f in firings if f.fired] if fired else [f.reason for f in firings]
    return Firing(
        name,
        fired,
        "; ".join(reasons),
        {"rules": [f.to_json() for f in firings]},
        {f.rule: f.memory for f in firings},
        manual=fired and any(f.manual and f.fired for f in firings),
    )
