"""Records read from the metadata store: frozen dataclasses, times as aware UTC datetimes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ctml.hashing import canonical_json
from ctml.types import JSONObject

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the serve extra brings it
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "AliasMove",
    "AliasTarget",
    "App",
    "ArtifactRef",
    "AuditEntry",
    "DatasetVersion",
    "Decision",
    "Edge",
    "Event",
    "MetricPoint",
    "Model",
    "ModelVersion",
    "Node",
    "Run",
    "Step",
]


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, tz=UTC)


def must_ms(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def dump(value: Any) -> str:
    return canonical_json(value)


def load(text: str | None) -> Any:
    """The JSON value stored as ``text``: with orjson when it is installed (several times faster on the prediction
    log's documents, which the monitor and the tournament read every cycle), else the standard library, which
    also reads what orjson refuses (integers past 64 bits)."""
    if text is None:
        return None
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text)


@dataclass(frozen=True)
class App:
    name: str
    spec: JSONObject | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Run:
    """A run with its params, latest metric values and tags."""

    id: str
    app: str | None
    name: str
    kind: str
    status: str
    actor: str
    parent_id: str | None
    created_at: datetime
    ended_at: datetime | None
    code_fingerprint: str | None = None
    git_commit: str | None = None
    environment: JSONObject | None = None
    seed: int | None = None
    error: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.created_at).total_seconds()


@dataclass(frozen=True)
class Step:
    id: str
    run_id: str
    name: str
    status: str
    attempt: int
    started_at: datetime
    ended_at: datetime | None
    cache_key: str | None
    cached: bool
    error: str | None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int
    at: datetime


@dataclass(frozen=True)
class ArtifactRef:
    """A named pointer from a run (or one of its steps) to content in the artifact store."""

    id: str
    run_id: str | None
    step_id: str | None
    name: str
    digest: str
    size: int
    media_type: str
    created_at: datetime


@dataclass(frozen=True)
class DatasetVersion:
    id: str
    dataset: str
    version: int
    digest: str
    artifact_digest: str | None
    rows: int
    schema: JSONObject | None
    profile: JSONObject | None
    source: JSONObject | None
    time_min: str | None
    time_max: str | None
    created_at: datetime


@dataclass(frozen=True)
class Model:
    name: str
    app: str | None
    description: str | None
    created_at: datetime


@dataclass(frozen=True)
class ModelVersion:
    id: str
    model: str
    version: int
    run_id: str | None
    artifact_digest: str | None
    flavor: str | None
    metrics: dict[str, float]
    meta: JSONObject
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class AliasTarget:
    """Where an alias points now. ``revision`` counts its moves; compare-and-set is on it."""

    model: str
    alias: str
    version: int | None
    revision: int
    updated_at: datetime


@dataclass(frozen=True)
class AliasMove:
    model: str
    alias: str
    revision: int
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True, order=True)
class Node:
    """A lineage node: ``kind`` is one of run, step, dataset_version, model_version, artifact, deployment."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Edge:
    """``src`` was used to make ``dst`` (``relation`` says how: input, output, produced, derived, ...)."""

    src: Node
    dst: Node
    relation: str
    created_at: datetime


@dataclass(frozen=True)
class Event:
    seq: int
    id: str
    kind: str
    app: str | None
    payload: JSONObject
    created_at: datetime


@dataclass(frozen=True)
class Decision:
    """A gate, trigger, validation or rollback outcome with the evidence behind it."""

    id: str
    app: str | None
    kind: str
    outcome: str
    summary: str
    evidence: JSONObject
    run_id: str | None
    model: str | None
    version: int | None
    actor: str
    created_at: datetime

    @classmethod
    def from_row(cls, r: Any) -> Decision:
        """A row of the ``decisions`` table (any query selecting its columns)."""
        return cls(r.id, r.app, r.kind, r.outcome, r.summary, load(r.evidence), r.run_id, r.model, r.version, r.actor,
                   must_ms(r.created_ms))  # fmt: skip


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    entity_kind: str
    entity_id: str
    reason: str
    detail: JSONObject
