"""The gate's verdict: an outcome, a one-line reason, and the evidence, stored as a ``gate`` decision.

>>> verdict = Verdict("reject", "Rejected: p99 latency 41.0 ms exceeds 30.0 ms.", {"checks": []})
>>> verdict.promoted, verdict.to_json()["outcome"]
(False, 'reject')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ctml.errors import ConfigError
from ctml.meta import Decision, MetaStore
from ctml.types import JSON, JSONObject

__all__ = ["OUTCOMES", "Check", "Outcome", "Verdict", "record_verdict"]

Outcome = Literal["promote", "reject", "needs_approval"]
OUTCOMES: tuple[Outcome, ...] = ("promote", "reject", "needs_approval")


@dataclass(frozen=True)
class Check:
    """One condition of the gate: its status, the measured value, the limit it was held to, and why."""

    name: str
    status: Literal["passed", "failed", "skipped"]
    value: JSON
    limit: JSON
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_json(self) -> JSONObject:
        return {
            "name": self.name,
            "status": self.status,
            "value": self.value,
            "limit": self.limit,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Verdict:
    """What the gate decided: ``outcome``, a human ``reason`` in one line, and JSON ``evidence``."""

    outcome: Outcome
    reason: str
    evidence: JSONObject

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ConfigError(f"A verdict's outcome must be one of {', '.join(OUTCOMES)}. Got {self.outcome!r}.")

    @property
    def promoted(self) -> bool:
        return self.outcome == "promote"

    def to_json(self) -> JSONObject:
        return {"outcome": self.outcome, "reason": self.reason, "evidence": self.evidence}


def record_verdict(
    meta: MetaStore,
    verdict: Verdict,
    *,
    app: str,
    run_id: str | None = None,
    model: str | None = None,
    version: int | None = None,
    actor: str,
) -> Decision:
    """Store ``verdict`` as a ``gate`` decision (with its audit entry) and return the stored record."""
    return meta.decisions.record(
        "gate",
        verdict.outcome,
        verdict.reason,
        verdict.evidence,
        app=app,
        run_id=run_id,
        model=model,
        version=version,
        actor=actor,
    )
