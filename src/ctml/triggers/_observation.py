"""What a retraining policy sees (an :class:`Observation`) and what it remembers between looks (:class:`TriggerState`).

The monitor measures; the controller builds an observation from those measurements and asks the policy.
Both records are plain data: a policy is a pure function of them, so a backtest replays it exactly and a
decision can be explained from its stored evidence alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ctml.errors import ConfigError
from ctml.types import JSON, JSONObject

__all__ = ["ManualRequest", "Observation", "TriggerState"]


@dataclass(frozen=True)
class ManualRequest:
    """An operator's (or an outside system's) request to retrain, with who asked and why."""

    id: str
    actor: str
    reason: str


@dataclass(frozen=True)
class Observation:
    """One look at an app, at time ``at``.

    ``new_rows`` counts labelled rows that arrived since the champion was trained. ``drift_score`` is the
    monitor's data-drift summary (the share of drifted features, in [0, 1]), with the features behind it.
    ``performance`` is the champion's realized metric on the latest labelled window of ``labelled_rows``
    rows, and ``baseline`` the same metric when the champion was promoted. ``pipeline_fingerprint`` is the
    training pipeline's code now; ``champion_fingerprint`` the code that trained the champion.
    """

    at: datetime
    new_rows: int = 0
    drift_score: float | None = None
    drifted_features: tuple[str, ...] = ()
    performance: float | None = None
    baseline: float | None = None
    labelled_rows: int = 0
    metric: str = "accuracy"
    higher_is_better: bool = True
    pipeline_fingerprint: str | None = None
    champion_fingerprint: str | None = None
    manual: tuple[ManualRequest, ...] = ()

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ConfigError(f"An observation's time must be timezone-aware (UTC). Got {self.at!r}.")
        if self.new_rows < 0 or self.labelled_rows < 0:
            raise ConfigError(f"Row counts of an observation must be >= 0. Got {self.new_rows}, {self.labelled_rows}.")
        if self.drift_score is not None and not 0.0 <= self.drift_score <= 1.0:
            raise ConfigError(f"An observation's drift_score must be in [0, 1]. Got {self.drift_score}.")

    def summary(self) -> JSONObject:
        """The observation as evidence: every number a decision could have used."""
        return {
            "at": self.at.isoformat(),
            "new_rows": self.new_rows,
            "drift_score": self.drift_score,
            "drifted_features": list(self.drifted_features),
            "metric": self.metric,
            "performance": self.performance,
            "baseline": self.baseline,
            "labelled_rows": self.labelled_rows,
            "pipeline_fingerprint": self.pipeline_fingerprint,
            "champion_fingerprint": self.champion_fingerprint,
            "manual": [{"id": m.id, "actor": m.actor, "reason": m.reason} for m in self.manual],
        }


@dataclass(frozen=True)
class TriggerState:
    """What a policy remembers: the last retrain, the day's count against the budget, and each rule's memory."""

    last_retrain: datetime | None = None
    day: str = ""
    retrains_today: int = 0
    memory: Mapping[str, JSONObject] = field(default_factory=dict)

    def remember(self, name: str, value: JSONObject) -> TriggerState:
        return replace(self, memory={**self.memory, name: value})

    def rearmed(self) -> TriggerState:
        """Every rule with hysteresis armed again, the rest of the memory kept: after a rejected challenger the
        condition that fired still stands, and the next try (after the cooldown, on newer rows) may fire.

        >>> TriggerState(memory={"any": {"drift": {"armed": False}, "code": {"tried": "abc"}}}).rearmed().memory
        {'any': {'drift': {'armed': True}, 'code': {'tried': 'abc'}}}
        """
        return replace(self, memory={k: _rearm(v) for k, v in self.memory.items()})

    def to_json(self) -> JSONObject:
        return {
            "last_retrain": None if self.last_retrain is None else self.last_retrain.isoformat(),
            "day": self.day,
            "retrains_today": self.retrains_today,
            "memory": {k: dict(v) for k, v in self.memory.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TriggerState:
        """The state :meth:`to_json` wrote (an empty mapping gives a fresh state).

        >>> state = TriggerState(datetime(2026, 1, 1, tzinfo=UTC), "2026-01-01", 2, {"drift": {"armed": False}})
        >>> TriggerState.from_json(state.to_json()) == state
        True
        """
        last = data.get("last_retrain")
        memory: JSON = data.get("memory") or {}
        if not isinstance(memory, dict):
            raise ConfigError(f"A trigger state's memory must be an object. Got {memory!r}.")
        return cls(
            last_retrain=None if last is None else datetime.fromisoformat(str(last)).astimezone(UTC),
            day=str(data.get("day", "")),
            retrains_today=int(data.get("retrains_today", 0)),
            memory={str(k): dict(v) for k, v in memory.items() if isinstance(v, dict)},
        )


def _rearm(memory: Any) -> Any:
    if isinstance(memory, Mapping):
        return {k: (True if k == "armed" else _rearm(v)) for k, v in memory.items()}
    return memory
