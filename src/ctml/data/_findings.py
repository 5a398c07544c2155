"""Validation outcomes as data: a finding per problem, with a severity, a message and its numbers.

``fail`` stops a pipeline before training; ``warn`` is shown and stored; ``info`` is context.

>>> report = Report((Finding("nulls", "fail", "Column 'x' is 40.0% null.", column="x"),), rows=10)
>>> report.passed, report.worst, report.counts()
(False, 'fail', {'info': 0, 'warn': 0, 'fail': 1})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ctml.types import JSON, JSONObject

__all__ = ["SEVERITIES", "Finding", "Report", "Severity"]

Severity = Literal["info", "warn", "fail"]
SEVERITIES: tuple[Severity, ...] = ("info", "warn", "fail")


@dataclass(frozen=True)
class Finding:
    """One check's outcome: which check, how bad, on which column, a readable message and the numbers."""

    check: str
    severity: Severity
    message: str
    column: str | None = None
    details: JSONObject = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.severity != "fail"

    def as_dict(self) -> JSONObject:
        return {
            "check": self.check,
            "severity": self.severity,
            "column": self.column,
            "message": self.message,
            "details": self.details,
        }


@dataclass(frozen=True)
class Report:
    """Every finding of one batch, worst first."""

    findings: tuple[Finding, ...]
    rows: int = 0
    source: str | None = None

    @property
    def passed(self) -> bool:
        """No finding is a ``fail``."""
        return all(f.passed for f in self.findings)

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=SEVERITIES.index, default=None)

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def summary(self) -> str:
        counts = self.counts()
        verdict = "passed" if self.passed else "FAILED"
        where = f"{self.source}: " if self.source else ""
        return (
            f"{where}{verdict} ({self.rows} rows; {counts['fail']} fail, {counts['warn']} warn, {counts['info']} info)"
        )

    def as_dict(self) -> JSONObject:
        findings: list[JSON] = [f.as_dict() for f in self.findings]
        return {
            "source": self.source,
            "rows": self.rows,
            "passed": self.passed,
            "worst": self.worst,
            "counts": dict(self.counts()),
            "findings": findings,
        }


def ordered(findings: list[Finding]) -> tuple[Finding, ...]:
    """Worst first, then by column, keeping each check's order."""
    return tuple(sorted(findings, key=lambda f: (-SEVERITIES.index(f.severity), f.column or "")))
