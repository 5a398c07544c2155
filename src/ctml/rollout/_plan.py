"""A roll-out plan: how a promoted challenger reaches all traffic, and the guards that roll it back.

shadow (the challenger sees a copy of traffic, its answers only logged) -> canary steps (a share of traffic,
by a sticky key hash) -> full. Each stage is held for ``bake_s`` seconds *and* ``bake_requests`` requests;
any guard breached during a stage rolls back to the previous champion.

>>> plan = RolloutPlan(canary=(5, 25, 50))
>>> plan.stages
('shadow', 'canary 5%', 'canary 25%', 'canary 50%', 'full')
"""

from __future__ import annotations

from dataclasses import dataclass

from ctml.errors import ConfigError
from ctml.types import JSONObject

__all__ = ["RolloutPlan"]


@dataclass(frozen=True)
class RolloutPlan:
    """Stages and guards. ``shadow_s`` 0 skips the shadow stage; an empty ``canary`` goes straight to full
    (blue/green: the switch is one alias move, and the guards watch the new version after it)."""

    shadow_s: float = 600.0
    canary: tuple[float, ...] = (5.0, 25.0, 50.0)
    bake_s: float = 1800.0
    bake_requests: int = 500
    max_error_rate: float = 0.01
    max_p99_ms: float | None = None
    max_metric_drop: float | None = 0.02
    max_prediction_drift: float | None = None
    guard_min: int = 20
    """A guard judges only after this many requests (or labelled rows): one error in two requests is noise."""

    def __post_init__(self) -> None:
        for name in ("shadow_s", "bake_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"The '{name}' parameter of RolloutPlan must be seconds >= 0. Got {value!r} instead.")
        steps = tuple(self.canary)
        if any(not isinstance(s, int | float) or isinstance(s, bool) or not 0 < s < 100 for s in steps) or list(
            steps
        ) != sorted(set(steps)):
            raise ConfigError(
                "The 'canary' parameter of RolloutPlan must be increasing percentages in (0, 100), "
                f"for example (5, 25, 50). Got {self.canary!r} instead."
            )
        object.__setattr__(self, "canary", tuple(float(s) for s in steps))
        if not isinstance(self.bake_requests, int) or isinstance(self.bake_requests, bool) or self.bake_requests < 0:
            raise ConfigError(
                f"The 'bake_requests' parameter of RolloutPlan must be an int >= 0. Got {self.bake_requests!r} instead."
            )
        if not 0 <= self.max_error_rate <= 1:
            raise ConfigError(
                f"The 'max_error_rate' parameter of RolloutPlan must be in [0, 1]. Got {self.max_error_rate!r} instead."
            )
        if not isinstance(self.guard_min, int) or isinstance(self.guard_min, bool) or self.guard_min < 1:
            raise ConfigError(
                f"The 'guard_min' parameter of RolloutPlan must be an int >= 1. Got {self.guard_min!r} instead."
            )
        for name in ("max_p99_ms", "max_metric_drop", "max_prediction_drift"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool) or value < 0):
                raise ConfigError(f"The '{name}' parameter of RolloutPlan must be >= 0 or None. Got {value!r} instead.")

    @property
    def stages(self) -> tuple[str, ...]:
        shadow = ("shadow",) if self.shadow_s > 0 else ()
        return (*shadow, *(f"canary {s:g}%" for s in self.canary), "full")

    def to_json(self) -> JSONObject:
        return {
            "shadow_s": self.shadow_s,
            "canary": list(self.canary),
            "bake_s": self.bake_s,
            "bake_requests": self.bake_requests,
            "max_error_rate": self.max_error_rate,
            "max_p99_ms": self.max_p99_ms,
            "max_metric_drop": self.max_metric_drop,
            "max_prediction_drift": self.max_prediction_drift,
            "guard_min": self.guard_min,
        }
