"""What a controller keeps in the store: leases (who acts for an app) and its state per app.

A lease is a row ``name -> owner, expires_ms, revision``. :meth:`LeaseRepo.acquire` takes it only when it is
free, expired or already held by the caller, in one conditional statement, so on both backends exactly one of
two racing owners wins: SQLite serializes writers (``BEGIN IMMEDIATE``); on PostgreSQL the second ``UPDATE``
waits for the first's row lock and re-checks its ``WHERE`` against the row the first wrote. The revision
counts hand-overs, and serves as a fencing token.

The controller's state is one JSON document per app moved by compare-and-set on its revision;
:meth:`ControllerStateRepo.transition` writes the new state together with the decisions and events that explain
it, in one transaction, so a process killed mid-cycle leaves either the old state or the new one with its
evidence, never half of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update

from ctml.errors import ConfigError, ConflictError
from ctml.meta._journal import write_audit
from ctml.meta._records import Decision, dump, load, must_ms, to_ms
from ctml.meta._schema import controller_state, decisions, leases
from ctml.meta._schema import events as event_table
from ctml.meta._tx import Repo, short_text
from ctml.types import JSONObject

__all__ = ["ControllerStateRecord", "ControllerStateRepo", "Lease", "LeaseRepo"]


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    expires_at: datetime
    revision: int


@dataclass(frozen=True)
class ControllerStateRecord:
    app: str
    state: JSONObject
    revision: int
    updated_at: datetime


class LeaseRepo(Repo):
    """Named leases with an owner and an expiry: ``controller:<app>`` says which controller acts for an app."""

    def get(self, name: str) -> Lease | None:
        with self._read() as conn:
            row = conn.execute(select(leases).where(leases.c.name == name)).first()
        return None if row is None else Lease(row.name, row.owner, must_ms(row.expires_ms), row.revision)

    def acquire(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take ``name`` for ``ttl_s`` seconds if it is free, expired or already ``owner``'s; False otherwise."""
        _check(name, owner, ttl_s)
        now_ms = self._now_ms()
        expires = now_ms + int(ttl_s * 1000)
        with self._write() as conn:
            inserted = conn.execute(
                self._upsert(leases).on_conflict_do_nothing(index_elements=["name"]).returning(leases.c.revision),
                {"name": name, "owner": owner, "expires_ms": expires, "revision": 1},
            ).first()
            if inserted is not None:
                return True
            taken = conn.execute(
                update(leases)
                .where(leases.c.name == name, or_(leases.c.owner == owner, leases.c.expires_ms <= now_ms))
                .values(owner=owner, expires_ms=expires, revision=leases.c.revision + 1)
                .returning(leases.c.revision)
            ).first()
            return taken is not None

    def renew(self, name: str, owner: str, ttl_s: float) -> bool:
        """Extend ``owner``'s lease by ``ttl_s`` from now; False when someone else holds it now."""
        _check(name, owner, ttl_s)
        now_ms = self._now_ms()
        with self._write() as conn:
            done = conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.owner == owner)
                .values(expires_ms=now_ms + int(ttl_s * 1000))
                .returning(leases.c.revision)
            ).first()
            return done is not None

    def release(self, name: str, owner: str) -> bool:
        """Give the lease up now (it expires at once); False when ``owner`` did not hold it."""
        _check(name, owner, 1)
        with self._write() as conn:
            done = conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.owner == owner)
                .values(expires_ms=0, revision=leases.c.revision + 1)
                .returning(leases.c.revision)
            ).first()
            return done is not None


class ControllerStateRepo(Repo):
    """The controller's state per app (its meaning is :mod:`ctml.controller`'s), moved by compare-and-set."""

    def get(self, app: str) -> ControllerStateRecord | None:
        with self._read() as conn:
            row = conn.execute(select(controller_state).where(controller_state.c.app == app)).first()
        if row is None:
            return None
        state = load(row.state)
        assert isinstance(state, dict)
        return ControllerStateRecord(row.app, state, row.revision, must_ms(row.updated_ms))

    def transition(
        self,
        app: str,
        state: JSONObject,
        *,
        expected_revision: int,
        decisions: Sequence[Decision] = (),
        events: Sequence[tuple[str, str, JSONObject]] = (),
    ) -> ControllerStateRecord:
        """Store ``state`` if the app's state is still at ``expected_revision`` (0: none yet), with ``decisions``
        (and their audit entries) and ``events`` (``(id, kind, payload)``; an id stored before is skipped), in
        one transaction. A lost race raises :class:`ConflictError` and writes nothing."""
        short_text("app name", app, 255)
        now_ms = self._now_ms()
        text = dump(state)
        with self._write() as conn:
            held = conn.execute(
                select(controller_state.c.revision).where(controller_state.c.app == app).with_for_update()
            ).scalar()
            current = 0 if held is None else int(held)
            if expected_revision != current:
                raise ConflictError(
                    f"The controller state of {app!r} is at revision {current}, not {expected_revision}: another "
                    "controller moved it since it was read. Read it again and retry."
                )
            values = {"state": text, "revision": current + 1, "updated_ms": now_ms}
            if held is None:
                conn.execute(insert(controller_state), [{"app": app, **values}])
            else:
                conn.execute(
                    update(controller_state)
                    .where(controller_state.c.app == app, controller_state.c.revision == current)
                    .values(**values)
                )
            for d in decisions:
                _insert_decision(conn, d)
                write_audit(conn, now_ms, d.actor, f"decision.{d.kind}", "decision", d.id, d.summary,
                            {"outcome": d.outcome})  # fmt: skip
            for event_id, kind, payload in events:
                conn.execute(
                    self._upsert(event_table).on_conflict_do_nothing(index_elements=["id"]),
                    {"id": event_id, "kind": kind, "app": app, "payload": dump(payload), "created_ms": now_ms},
                )
        return ControllerStateRecord(app, state, current + 1, must_ms(now_ms))


def _insert_decision(conn: Any, d: Decision) -> None:
    short_text("decision kind", d.kind, 64)
    short_text("decision outcome", d.outcome, 64)
    conn.execute(
        insert(decisions),
        [
            {
                "id": d.id,
                "app": d.app,
                "kind": d.kind,
                "outcome": d.outcome,
                "summary": d.summary,
                "evidence": dump(d.evidence),
                "run_id": d.run_id,
                "model": d.model,
                "version": d.version,
                "actor": d.actor,
                "created_ms": to_ms(d.created_at),
            }
        ],
    )


def _check(name: str, owner: str, ttl_s: float) -> None:
    short_text("lease name", name, 255)
    short_text("lease owner", owner, 255)
    if not isinstance(ttl_s, int | float) or isinstance(ttl_s, bool) or ttl_s <= 0:
        raise ConfigError(f"A lease's ttl_s must be a number of seconds > 0. Got {ttl_s!r}.")
