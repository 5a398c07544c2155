"""Events, decisions and the audit log: the append-only record of what happened and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from ctml.errors import ConfigError
from ctml.ids import new_id
from ctml.meta._records import AuditEntry, Decision, Event, dump, load, must_ms, to_ms
from ctml.meta._schema import audit_log, decisions, events
from ctml.meta._tx import Repo, short_text
from ctml.types import JSONObject

__all__ = ["AuditRepo", "DecisionRepo", "EventRepo", "write_audit"]


class EventRepo(Repo):
    """Events with caller-chosen ids: appending an id twice stores it once (idempotent producers)."""

    def append(self, event_id: str, kind: str, payload: JSONObject, *, app: str | None = None) -> bool:
        """Store the event; False when an event with this id was already stored."""
        if not event_id:
            raise ConfigError("An event id must be a non-empty string; it is what deduplicates deliveries.")
        short_text("event id", event_id, 255)
        short_text("event kind", kind, 64)
        stmt = self._upsert(events).on_conflict_do_nothing(index_elements=["id"])
        row = {"id": event_id, "kind": kind, "app": app, "payload": dump(payload), "created_ms": self._now_ms()}
        with self._write() as conn:
            # A row comes back only when it was inserted; psycopg's rowcount here is -1 either way.
            return conn.execute(stmt.returning(events.c.seq), row).first() is not None

    def read(
        self, *, after: int = 0, kind: str | None = None, app: str | None = None, limit: int = 1000
    ) -> list[Event]:
        """Events with ``seq`` greater than ``after``, oldest first: a consumer keeps its last seq."""
        query = select(events).where(events.c.seq > after)
        if kind is not None:
            query = query.where(events.c.kind == kind)
        if app is not None:
            query = query.where(events.c.app == app)
        query = query.order_by(events.c.seq).limit(limit)
        with self._read() as conn:
            return [
                Event(r.seq, r.id, r.kind, r.app, load(r.payload), must_ms(r.created_ms)) for r in conn.execute(query)
            ]


class DecisionRepo(Repo):
    """Gate, trigger, validation and rollback outcomes with their evidence."""

    def record(
        self,
        kind: str,
        outcome: str,
        summary: str,
        evidence: JSONObject,
        *,
        app: str | None = None,
        run_id: str | None = None,
        model: str | None = None,
        version: int | None = None,
        actor: str = "unknown",
    ) -> Decision:
        short_text("decision kind", kind, 64)
        short_text("decision outcome", outcome, 64)
        now = self._now()
        decision = Decision(new_id(now), app, kind, outcome, summary, evidence, run_id, model, version, actor, now)
        row = {
            "id": decision.id,
            "app": app,
            "kind": kind,
            "outcome": outcome,
            "summary": summary,
            "evidence": dump(evidence),
            "run_id": run_id,
            "model": model,
            "version": version,
            "actor": actor,
            "created_ms": to_ms(now),
        }
        with self._write() as conn:
            conn.execute(insert(decisions), [row])
            write_audit(
                conn, self._now_ms(), actor, f"decision.{kind}", "decision", decision.id, summary, {"outcome": outcome}
            )
        return decision

    def list(
        self, *, app: str | None = None, kind: str | None = None, run_id: str | None = None, limit: int = 100
    ) -> list[Decision]:
        query = select(decisions)
        if app is not None:
            query = query.where(decisions.c.app == app)
        if kind is not None:
            query = query.where(decisions.c.kind == kind)
        if run_id is not None:
            query = query.where(decisions.c.run_id == run_id)
        query = query.order_by(decisions.c.created_ms.desc(), decisions.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [Decision.from_row(r) for r in conn.execute(query)]


class AuditRepo(Repo):
    """Who did what, when and why. Registry moves and decisions write here in their own transaction."""

    def record(
        self,
        actor: str,
        action: str,
        entity_kind: str,
        entity_id: str,
        reason: str = "",
        detail: JSONObject | None = None,
    ) -> None:
        short_text("audit action", action, 64)
        short_text("audit entity kind", entity_kind, 32)
        with self._write() as conn:
            write_audit(conn, self._now_ms(), actor, action, entity_kind, entity_id, reason, detail or {})

    def list(
        self, *, entity_kind: str | None = None, entity_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        query = select(audit_log)
        if entity_kind is not None:
            query = query.where(audit_log.c.entity_kind == entity_kind)
        if entity_id is not None:
            query = query.where(audit_log.c.entity_id == entity_id)
        query = query.order_by(audit_log.c.seq.desc()).limit(limit)
        with self._read() as conn:
            return [
                AuditEntry(
                    r.seq, must_ms(r.at_ms), r.actor, r.action, r.entity_kind, r.entity_id, r.reason, load(r.detail)
                )
                for r in conn.execute(query)
            ]


def write_audit(
    conn: Any, at_ms: int, actor: str, action: str, kind: str, entity: str, reason: str, detail: JSONObject
) -> None:
    conn.execute(
        insert(audit_log),
        [
            {
                "at_ms": at_ms,
                "actor": actor,
                "action": action,
                "entity_kind": kind,
                "entity_id": entity,
                "reason": reason,
                "detail": dump(detail),
            }
        ],
    )
