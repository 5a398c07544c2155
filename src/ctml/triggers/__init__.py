"""Triggers (L2 loop): pure policies from observations to retraining decisions, each with its evidence.

Rules — :class:`Schedule` (cron), :class:`Volume` (new labelled rows), :class:`Drift`,
:class:`PerformanceDrop`, :class:`Manual`, :class:`CodeChange` — combine with :class:`AnyOf` and
:class:`AllOf`; a :class:`RetrainPolicy` adds a cooldown and a daily budget. Given the same observations and
state, a policy makes the same decisions, so ``ctml backtest`` replays it exactly. ``docs/triggers.md`` is the
user's guide.
"""

from ctml.triggers._observation import ManualRequest, Observation, TriggerState
from ctml.triggers._policy import RetrainPolicy, TriggerDecision
from ctml.triggers._rules import (
    AllOf,
    AnyOf,
    CodeChange,
    Drift,
    Firing,
    Manual,
    PerformanceDrop,
    Rule,
    Schedule,
    Volume,
)

__all__ = [
    "AllOf",
    "AnyOf",
    "CodeChange",
    "Drift",
    "Firing",
    "Manual",
    "ManualRequest",
    "Observation",
    "PerformanceDrop",
    "RetrainPolicy",
    "Rule",
    "Schedule",
    "TriggerDecision",
    "TriggerState",
    "Volume",
]
