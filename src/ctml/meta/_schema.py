"""The metadata schema: one SQLAlchemy ``MetaData`` shared by the store and its Alembic migrations.

Times are integer Unix milliseconds (``*_ms``): they sort, compare and index the same on SQLite and PostgreSQL.
JSON documents are stored as text written by :func:`ctml.hashing.canonical_json`, so equal documents are equal
strings on every backend.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["METADATA"]

METADATA = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(32)
NAME = String(255)

apps = Table(
    "apps",
    METADATA,
    Column("name", NAME, primary_key=True),
    Column("spec", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    METADATA,
    Column("id", ID, primary_key=True),
    Column("app", NAME, nullable=True),
    Column("name", NAME, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor", NAME, nullable=False),
    Column("parent_id", ID, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("ended_ms", BigInteger, nullable=True),
    Column("code_fingerprint", String(64), nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("environment", Text, nullable=True),
    Column("seed", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_runs_app_created", "app", "created_ms"),
    Index("ix_runs_created", "created_ms"),
)

steps = Table(
    "steps",
    METADATA,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("started_ms", BigInteger, nullable=False),
    Column("ended_ms", BigInteger, nullable=True),
    Column("cache_key", String(64), nullable=True),
    Column("cached", Boolean, nullable=False, default=False),
    Column("error", Text, nullable=True),
    Index("ix_steps_run", "run_id", "started_ms"),
    # One row per attempt: two processes resuming one run collide here instead of both running a step.
    Index("ux_steps_run_name_attempt", "run_id", "name", "attempt", unique=True),
    Index("ix_steps_cache_key", "cache_key"),
)

params = Table(
    "params",
    METADATA,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", NAME, primary_key=True),
    Column("value", Text, nullable=False),
    # Composite text keys: without a rowid the table is one B-tree instead of two, halving page writes.
    sqlite_with_rowid=False,
)

metrics = Table(
    "metrics",
    METADATA,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", NAME, nullable=False),
    Column("value", Float, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Index("ix_metrics_run_key", "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    METADATA,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", NAME, primary_key=True),
    Column("value", Float, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    METADATA,
    Column("entity_kind", String(32), primary_key=True),
    Column("entity_id", NAME, primary_key=True),
    Column("key", NAME, primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_tags_key_value", "entity_kind", "key"),
    sqlite_with_rowid=False,
)

artifacts = Table(
    "artifacts",
    METADATA,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=True),
    Column("step_id", ID, nullable=True),
    Column("name", NAME, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_artifacts_run", "run_id", "name"),
    Index("ix_artifacts_digest", "digest"),
)

dataset_versions = Table(
    "dataset_versions",
    METADATA,
    Column("id", ID, primary_key=True),
    Column("dataset", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("artifact_digest", String(64), nullable=True),
    Column("rows", BigInteger, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    Column("source", Text, nullable=True),
    Column("time_min", String(64), nullable=True),
    Column("time_max", String(64), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("dataset", "version", name="uq_dataset_versions_dataset_version"),
    UniqueConstraint("dataset", "digest", name="uq_dataset_versions_dataset_digest"),
)

models = Table(
    "models",
    METADATA,
    Column("name", NAME, primary_key=True),
    Column("app", NAME, nullable=True),
    Column("description", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("next_version", Integer, nullable=False, default=1),
)

model_versions = Table(
    "model_versions",
    METADATA,
    Column("id", ID, primary_key=True),
    Column("model", NAME, ForeignKey("models.name", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", ID, nullable=True),
    Column("artifact_digest", String(64), nullable=True),
    Column("flavor", String(64), nullable=True),
    Column("metrics", Text, nullable=True),
    Column("meta", Text, nullable=True),
    Column("actor", NAME, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
    Index("ix_model_versions_run", "run_id"),
)

aliases = Table(
    "aliases",
    METADATA,
    Column("model", NAME, ForeignKey("models.name", ondelete="CASCADE"), primary_key=True),
    Column("alias", NAME, primary_key=True),
    Column("version", Integer, nullable=True),
    Column("revision", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

alias_history = Table(
    "alias_history",
    METADATA,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("model", NAME, nullable=False),
    Column("alias", NAME, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("actor", NAME, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    UniqueConstraint("model", "alias", "revision", name="uq_alias_history_model_alias_revision"),
)

lineage_edges = Table(
    "lineage_edges",
    METADATA,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("src_kind", String(32), nullable=False),
    Column("src_id", NAME, nullable=False),
    Column("dst_kind", String(32), nullable=False),
    Column("dst_id", NAME, nullable=False),
    Column("relation", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("src_kind", "src_id", "dst_kind", "dst_id", "relation", name="uq_lineage_edges_all"),
    Index("ix_lineage_dst", "dst_kind", "dst_id"),
)

events = Table(
    "events",
    METADATA,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", NAME, nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("app", NAME, nullable=True),
    Column("payload", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_events_app_kind", "app", "kind"),
    Index("ix_events_kind_seq", "kind", "seq"),  # migration 0004: the SQL bus reads a topic in sequence order
)

# The SQL event bus's tables (migration 0004; their meaning is ctml.bus's, see ctml/bus/_sql.py): deliveries
# handed out per consumer group, each group's offset per topic, and the event ids a group has processed.
bus_deliveries = Table(
    "bus_deliveries",
    METADATA,
    Column("consumer_group", String(64), primary_key=True),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("topic", String(64), nullable=False),
    Column("event_id", NAME, nullable=False),
    Column("holder", String(32), nullable=False),
    Column("lease_until_ms", BigInteger, nullable=False),
    Column("acked", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Index("ix_bus_deliveries_group_event", "consumer_group", "event_id"),
)

bus_offsets = Table(
    "bus_offsets",
    METADATA,
    Column("consumer_group", String(64), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

bus_processed = Table(
    "bus_processed",
    METADATA,
    Column("consumer_group", String(64), primary_key=True),
    Column("event_id", NAME, primary_key=True),
    Column("processed_ms", BigInteger, nullable=False),
)

decisions = Table(
    "decisions",
    METADATA,
    Column("id", ID, primary_key=True),
    Column("app", NAME, nullable=True),
    Column("kind", String(64), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("summary", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("run_id", ID, nullable=True),
    Column("model", NAME, nullable=True),
    Column("version", Integer, nullable=True),
    Column("actor", NAME, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_decisions_app_created", "app", "created_ms"),
)

audit_log = Table(
    "audit_log",
    METADATA,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", NAME, nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_kind", String(32), nullable=False),
    Column("entity_id", NAME, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_audit_entity", "entity_kind", "entity_id"),
)

source_watermarks = Table(
    "source_watermarks",
    METADATA,
    Column("source", NAME, primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("token", Text, nullable=False),
    Column("dataset_version_id", ID, nullable=True),
    Column("updated_ms", BigInteger, nullable=False),
)

# Serving (migration 0005): the prediction log, labels that arrive later, route tables, API tokens.
predictions = Table(
    "predictions",
    METADATA,
    # One row per request: its predictions are ids "<id>-0" .. "<id>-<rows-1>", inputs and outputs JSON arrays
    # in row order. Encoding a request once, not each row, keeps the log's cost off the serving path.
    Column("id", ID, primary_key=True),
    Column("app", NAME, nullable=False),
    Column("model", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("route", String(16), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("output", Text, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Index("ix_predictions_app_at", "app", "at_ms"),
)

feedback = Table(
    "feedback",
    METADATA,
    Column("prediction_id", String(48), primary_key=True),
    Column("batch_id", ID, nullable=False),
    Column("row", Integer, nullable=False),
    Column("app", NAME, nullable=False),
    Column("label", Text, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Index("ix_feedback_app_at", "app", "at_ms"),
    Index("ix_feedback_batch", "batch_id"),
)

serve_routes = Table(
    "serve_routes",
    METADATA,
    Column("app", NAME, primary_key=True),
    Column("routes", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

rollouts = Table(
    "rollouts",
    METADATA,
    # The roll-out of an app's candidate: the state machine's state and its plan (JSON), moved by compare-and-set.
    Column("app", NAME, primary_key=True),
    Column("state", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    METADATA,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False),
    Column("role", String(16), nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger, nullable=True),
)

leases = Table(
    "leases",
    METADATA,
    # Who may act for something (``controller:<app>``) until when; taken by a conditional update (migration 0007).
    Column("name", NAME, primary_key=True),
    Column("owner", NAME, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("revision", Integer, nullable=False),
)

controller_state = Table(
    "controller_state",
    METADATA,
    # The controller's state per app (JSON: trigger state, champion, the job in progress), moved by compare-and-set.
    Column("app", NAME, primary_key=True),
    Column("state", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

learner_snapshots = Table(
    "learner_snapshots",
    METADATA,
    # The learned state of an online model version the server updates from labels (migration 0008): snapshot
    # ``seq`` of ``model`` v``version`` for ``app``, its bytes in the artifact store, and the feedback cursor it
    # has learned up to (labels ordered by ``(received_ms, prediction_id)``), so a restart re-learns the rest.
    Column("app", NAME, primary_key=True),
    Column("model", NAME, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("labels", BigInteger, nullable=False),
    Column("cursor_ms", BigInteger, nullable=False),
    Column("cursor_id", String(48), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
)
Index("ix_feedback_app_received", feedback.c.app, feedback.c.received_ms)
