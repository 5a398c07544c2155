"""Metadata store port (L1): runs, lineage, registry records, events, decisions and audit, in SQL.

SQLite (WAL) is the embedded default; PostgreSQL is the scale-out backend. Both run the same code and the
same conformance suite (:mod:`ctml.testing.meta`).
"""

from ctml.meta._control import ControllerStateRecord, Lease
from ctml.meta._engine import schema_status
from ctml.meta._models import ANY_REVISION
from ctml.meta._predictions import Answer, ArrivedLabel, FeedbackResult, LabeledPrediction, PredictionRecord
from ctml.meta._records import (
    AliasMove,
    AliasTarget,
    App,
    ArtifactRef,
    AuditEntry,
    DatasetVersion,
    Decision,
    Edge,
    Event,
    MetricPoint,
    Model,
    ModelVersion,
    Node,
    Run,
    Step,
)
from ctml.meta._runs import Metric
from ctml.meta._serving import ApiToken, RolloutRecord, RouteRecord
from ctml.meta._snapshots import Snapshot
from ctml.meta._store import MetaStore, open_meta

__all__ = [
    "ANY_REVISION",
    "AliasMove",
    "AliasTarget",
    "Answer",
    "ApiToken",
    "App",
    "ArrivedLabel",
    "ArtifactRef",
    "AuditEntry",
    "ControllerStateRecord",
    "DatasetVersion",
    "Decision",
    "Edge",
    "Event",
    "FeedbackResult",
    "LabeledPrediction",
    "Lease",
    "MetaStore",
    "Metric",
    "MetricPoint",
    "Model",
    "ModelVersion",
    "Node",
    "PredictionRecord",
    "RolloutRecord",
    "RouteRecord",
    "Run",
    "Snapshot",
    "Step",
    "open_meta",
    "schema_status",
]
