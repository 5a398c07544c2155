"""The records the dashboard's queries return: frozen dataclasses, times as aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ctml.meta._records import load, must_ms

__all__ = ["Page", "RunRow", "Series", "VersionRow", "version_row"]


@dataclass(frozen=True)
class Page:
    """Where a paged list is: ``number`` from 1, ``size`` rows a page, ``total`` rows in all."""

    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True)
class RunRow:
    id: str
    app: str | None
    name: str
    kind: str
    status: str
    actor: str
    created_at: datetime
    ended_at: datetime | None
    steps: int
    cached: int
    failed: int
    error: str | None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.created_at).total_seconds()


@dataclass(frozen=True)
class VersionRow:
    model: str
    version: int
    run_id: str | None
    flavor: str | None
    metrics: dict[str, float]
    actor: str
    created_at: datetime
    job: str | None


@dataclass(frozen=True)
class Series:
    """A metric over time: ``points`` of (Unix ms, value), averaged into at most ``limit`` buckets of steps."""

    key: str
    points: list[tuple[int, float]]


def version_row(r: Any) -> VersionRow:
    meta = load(r.meta) or {}
    job = meta.get("job") if isinstance(meta, dict) else None
    return VersionRow(
        r.model,
        int(r.version),
        r.run_id,
        r.flavor,
        load(r.metrics) or {},
        r.actor,
        must_ms(r.created_ms),
        job if isinstance(job, str) else None,
    )
