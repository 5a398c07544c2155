"""Roll-out (L2 loop): how a promoted model reaches all traffic, and the guards that roll it back.

The plan (:class:`RolloutPlan`) says the stages and guards; :func:`start`, :func:`step` and :func:`routes_for`
are the state machine as pure functions (the same code in production and in a backtest); :class:`Rollouts`
persists it and applies it to the route table, the registry alias, decisions and events.
"""

from ctml.rollout._machine import (
    GuardCheck,
    RolloutDecision,
    RolloutState,
    StageStats,
    guards,
    routes_for,
    start,
    step,
)
from ctml.rollout._plan import RolloutPlan
from ctml.rollout._rollouts import Rollouts

__all__ = [
    "GuardCheck",
    "RolloutDecision",
    "RolloutPlan",
    "RolloutState",
    "Rollouts",
    "StageStats",
    "guards",
    "routes_for",
    "start",
    "step",
]
