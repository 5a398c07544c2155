"""What a backtest measured: one :class:`PolicyResult` per policy on the same rows, and the run's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ctml.types import JSONObject

__all__ = ["BacktestResult", "Marker", "PolicyResult"]


@dataclass(frozen=True)
class Marker:
    """Something a policy did at stream position ``row``: ``retrain``, ``promote``, ``reject`` or ``rollback``."""

    row: int
    kind: str
    reason: str

    def to_json(self) -> JSONObject:
        return {"row": self.row, "kind": self.kind, "reason": self.reason}


@dataclass(frozen=True)
class PolicyResult:
    """A policy's score on the rows after the warm-up (``scores``: 1/0 hits, or absolute errors, per row)."""

    name: str
    metric: str
    value: float
    retrains: int
    seconds: float
    scores: np.ndarray
    markers: tuple[Marker, ...] = ()
    via_server: bool = False
    notes: tuple[str, ...] = ()
    details: JSONObject = field(default_factory=dict)

    def time_spent(self) -> dict[str, float]:
        """Where a replay's wall time went (``details["time"]``), each part once: every version's ``predict vN``
        summed as ``predict``, every ``predict and learn vN`` as ``predict and learn``; empty for a baseline."""
        spent = self.details.get("time")
        out: dict[str, float] = {}
        if not isinstance(spent, dict):
            return out
        for key, value in spent.items():
            if key == "total" or not isinstance(value, int | float):
                continue
            name = key.rsplit(" v", 1)[0] if key.startswith("predict") else key
            out[name] = out.get(name, 0.0) + float(value)
        return out

    @property
    def promotions(self) -> int:
        return sum(m.kind == "promote" for m in self.markers)

    @property
    def rollbacks(self) -> int:
        return sum(m.kind == "rollback" for m in self.markers)

    def to_json(self) -> JSONObject:
        reasons: dict[str, int] = {}
        for m in self.markers:
            if m.kind == "retrain":
                reasons[m.reason] = reasons.get(m.reason, 0) + 1
        out: JSONObject = {
            self.metric: round(self.value, 6),
            "retrains": self.retrains,
            "promotions": self.promotions,
            "rollbacks": self.rollbacks,
            "seconds": round(self.seconds, 3),
            "via_server": self.via_server,
            "retrain_reasons": dict(reasons),
            "events": [m.to_json() for m in self.markers],
            "notes": list(self.notes),
        }
        out.update(self.details)
        return out


@dataclass(frozen=True)
class BacktestResult:
    """Every policy's result on rows ``[warmup_rows, rows)`` of ``data``."""

    data: str
    target: str
    task: str
    rows: int
    warmup_rows: int
    window_rows: int
    label_delay_rows: int
    policies: dict[str, PolicyResult]
    notes: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        return "accuracy" if self.task == "classification" else "mae"

    def to_json(self) -> JSONObject:
        return {
            "data": self.data,
            "target": self.target,
            "task": self.task,
            "metric": self.metric,
            "rows": self.rows,
            "warmup_rows": self.warmup_rows,
            "window_rows": self.window_rows,
            "label_delay_rows": self.label_delay_rows,
            "policies": {name: p.to_json() for name, p in self.policies.items()},
            "notes": list(self.notes),
        }
