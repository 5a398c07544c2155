"""The retraining policy: rules that fired, weighed against a cooldown and a daily budget, as one decision.

>>> from datetime import datetime, timedelta, UTC
>>> from ctml.triggers import Volume, Drift
>>> policy = RetrainPolicy(AnyOf([Volume(1000), Drift(above=0.3)]), cooldown=timedelta(hours=6), max_per_day=2)
>>> t0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
>>> decision, state = policy.decide(Observation(t0, new_rows=1500), TriggerState())
>>> decision.outcome, decision.reason
('retrain', 'volume: 1,500 new labelled rows (>= 1,000)')
>>> decision, state = policy.decide(Observation(t0 + timedelta(hours=1), drift_score=0.6), state)
>>> decision.outcome, decision.reason
('suppressed', 'cooldown: the last retrain was 1h00m ago, under 6h00m (drift: 60% of features drifted (>= 30%))')
>>> policy.decide(Observation(t0 + timedelta(hours=7), drift_score=0.6), state)[0].outcome
'retrain'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from ctml.errors import ConfigError
from ctml.triggers._observation import Observation, TriggerState
from ctml.triggers._rules import AnyOf, Firing, Manual, Rule
from ctml.types import JSONObject

__all__ = ["RetrainPolicy", "TriggerDecision"]

_OUTCOMES = ("retrain", "hold", "suppressed")


@dataclass(frozen=True)
class TriggerDecision:
    """``retrain``, ``hold`` (nothing fired) or ``suppressed`` (something fired; the cooldown or the budget
    said not now), with a one-line reason and the evidence: every rule's answer and the observation."""

    outcome: str
    reason: str
    evidence: JSONObject = field(default_factory=dict)

    @property
    def retrain(self) -> bool:
        return self.outcome == "retrain"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


@dataclass(frozen=True)
class RetrainPolicy:
    """Retrain when ``rule`` fires, at most once per ``cooldown`` and ``max_per_day`` times per UTC day
    (``None``: no budget). Manual requests pass both limits; they are still counted."""

    rule: Rule = field(default_factory=lambda: AnyOf([Manual()]))
    cooldown: timedelta = timedelta(hours=1)
    max_per_day: int | None = 4

    def __post_init__(self) -> None:
        if not isinstance(self.rule, Rule):
            raise ConfigError(f"The 'rule' parameter of RetrainPolicy must be a trigger rule. Got {self.rule!r}.")
        if not isinstance(self.cooldown, timedelta) or self.cooldown < timedelta(0):
            raise ConfigError(
                f"The 'cooldown' parameter of RetrainPolicy must be a timedelta >= 0. Got {self.cooldown!r} instead."
            )
        budget = self.max_per_day
        if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 1):
            raise ConfigError(
                f"The 'max_per_day' parameter of RetrainPolicy must be an int >= 1 or None. Got {budget!r} instead."
            )

    def decide(self, obs: Observation, state: TriggerState) -> tuple[TriggerDecision, TriggerState]:
        """The decision for ``obs`` and the state to keep for the next look (pure: same inputs, same answer)."""
        day = obs.at.date().isoformat()
        if state.day != day:
            state = replace(state, day=day, retrains_today=0)
        firing = self.rule.check(obs, state.memory.get(self.rule.name, {}))
        state = state.remember(self.rule.name, firing.memory)
        evidence: JSONObject = {
            "rule": firing.to_json(),
            "observation": obs.summary(),
            "cooldown_s": self.cooldown.total_seconds(),
            "max_per_day": self.max_per_day,
            "retrains_today": state.retrains_today,
            "last_retrain": None if state.last_retrain is None else state.last_retrain.isoformat(),
        }
        if not firing.fired:
            return TriggerDecision("hold", f"nothing fired ({firing.reason})", evidence), state
        blocked = None if firing.manual else self._blocked(obs, state, firing)
        if blocked is not None:
            evidence["suppressed_by"] = blocked
            return TriggerDecision("suppressed", f"{blocked} ({firing.reason})", evidence), state
        acted = self.rule.acted(obs, state.memory.get(self.rule.name, {}))
        state = replace(state.remember(self.rule.name, acted), last_retrain=obs.at,
                        retrains_today=state.retrains_today + 1)  # fmt: skip
        return TriggerDecision("retrain", firing.reason, evidence), state

    def _blocked(self, obs: Observation, state: TriggerState, firing: Firing) -> str | None:
        if state.last_retrain is not None:
            since = obs.at - state.last_retrain
            if since < self.cooldown:
                return f"cooldown: the last retrain was {_span(since)} ago, under {_span(self.cooldown)}"
        if self.max_per_day is not None and state.retrains_today >= self.max_per_day:
            return f"budget: {state.retrains_today} retrains today, the most allowed per day"
        return None
