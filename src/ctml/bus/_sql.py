"""``SqlBus``: the outbox in the metadata database (SQLite or PostgreSQL), read by consumer groups.

Publishing appends to the metadata store's ``events`` table, so an event can be written in the same
transaction as the change it announces (``meta.events.append`` and :meth:`SqlBus.publish` write the same rows).

Why not "read after the last sequence number": on PostgreSQL a sequence number is taken when a row is
inserted, but the row becomes visible when its transaction commits, so seq 7 can appear after seq 8 was read;
a reader that only remembers "after 8" would skip 7 for ever. So a group records every event it was handed
(``bus_deliveries``) and reads *all* events above its offset that it has not acked and nobody holds. The
offset, which only keeps those reads short, moves past a sequence number only when that is provably final:
on PostgreSQL under ``LOCK TABLE events IN SHARE MODE NOWAIT`` (no insert is in flight, so every sequence
number up to the visible maximum is committed or never will be; if a publisher is mid-transaction the move
waits for a later ack), on SQLite always (writers are serialized, so commits land in sequence order).

Layering: ``ctml.bus`` may not import ``ctml.meta`` (sibling L1 ports), so this module opens its own
SQLAlchemy engine with the same settings (SQLite WAL, ``BEGIN IMMEDIATE`` for writes) and shares the schema
through the metadata store's migrations (revision 0004). It does not migrate: open the metadata store on the
URL first (``open_meta(url)`` or ``ctml db upgrade``), which the workspace and the CLI do anyway. A database
without the bus tables gets a :class:`~ctml.errors.SchemaVersionError` saying so.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, inspect, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from ctml.bus._base import Event, check_consume, check_group, check_ids, dump_payload, from_ms, load_payload, new_event
from ctml.bus._tables import deliveries, events, offsets
from ctml.clock import Clock, WallClock
from ctml.errors import BackendUnavailableError, ConfigError, SchemaVersionError
from ctml.meta._engine import connect
from ctml.types import JSONObject

__all__ = ["SqlBus", "sql_engine"]

_POLL = (0.02, 0.2)  # first and longest pause between polls while a consume blocks
_REAL_TIME = WallClock()  # polling waits for other processes, in real time, whatever clock leases run on


def _lock_not_available(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def _hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sql_engine(url: str) -> Engine:
    """An engine for ``sqlite:///...`` or ``postgresql://...``, checked with one round trip.

    The SQL bus lives in the metadata database, so it takes the metadata store's own engine: the same SQLite
    settings (WAL, ``BEGIN IMMEDIATE`` writers, busy timeout) and the same clear errors for a bad or
    unreachable URL.
    """
    return connect(url)


class SqlBus:
    """A :class:`~ctml.bus.Bus` on the metadata database; ``visibility`` is the lease of a delivery, in seconds.

    Leases run on ``clock`` (the consumers' clocks should agree within a fraction of ``visibility``).
    """

    def __init__(
        self, url: str, *, clock: Clock | None = None, visibility: float = 30.0, engine: Engine | None = None
    ) -> None:
        if not visibility > 0:
            raise ConfigError(f"The 'visibility' parameter of SqlBus must be seconds > 0. Got {visibility!r}.")
        self._url = url
        self._clock = clock or WallClock()
        self._visibility_ms = int(visibility * 1000)
        self._owns_engine = engine is None
        self._engine = engine if engine is not None else sql_engine(url)
        self._postgres = self._engine.dialect.name == "postgresql"
        self._holder = uuid.uuid4().hex
        self._closed = False
        try:
            missing = {"events", "bus_deliveries", "bus_offsets", "bus_processed"} - set(
                inspect(self._engine).get_table_names()
            )
        except (OperationalError, DBAPIError) as exc:
            self._dispose()
            raise self._unavailable(exc) from None
        if missing:
            self._dispose()
            raise SchemaVersionError(
                f"The database at {_hide_password(url)} has no event bus tables ({', '.join(sorted(missing))}); "
                "they come with metadata schema revision 0004. Open the metadata store on this URL first "
                "(ctml.meta.open_meta(url), or `ctml db upgrade`), which creates them."
            )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqlBus:
        return cls(url, **options)

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"SqlBus({_hide_password(self._url)!r})"

    # --- the port ---------------------------------------------------------------------------------------

    def publish(self, topic: str, payload: JSONObject, *, app: str | None = None, id: str | None = None) -> str:
        self._check_open()
        record = new_event(self._clock, topic, payload, app, id)
        row = {
            "id": record.id,
            "kind": record.topic,
            "app": record.app,
            "payload": dump_payload(record.payload),
            "created_ms": int(record.created.timestamp() * 1000),
        }
        with self._write() as conn:
            conn.execute(self._insert(events).on_conflict_do_nothing(index_elements=["id"]), row)
        return record.id

    def consume(self, group: str, topics: str | Sequence[str], *, max: int = 100, block: float = 0.0) -> list[Event]:
        self._check_open()
        group, names = check_consume(group, topics, max, block)
        deadline = _REAL_TIME.monotonic() + block
        pause = _POLL[0]
        while True:
            batch = self._claim(group, names, max)
            remaining = deadline - _REAL_TIME.monotonic()
            if batch or remaining <= 0:
                return batch
            _REAL_TIME.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL[1])

    def ack(self, group: str, ids: Iterable[str]) -> None:
        self._check_open()
        check_group(group)
        checked = check_ids(ids)
        if not checked:
            return
        with self._write() as conn:
            topics = [
                row.topic
                for row in conn.execute(
                    update(deliveries)
                    .where(deliveries.c.consumer_group == group, deliveries.c.event_id.in_(checked))
                    .values(acked=True, lease_until_ms=0)
                    .returning(deliveries.c.topic)
                )
            ]
        if topics:
            self._advance(group, sorted(set(topics)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with self._write() as conn:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.holder == self._holder, deliveries.c.acked.is_(False))
                    .values(lease_until_ms=0)
                )
        except BackendUnavailableError:
            pass  # the leases run out by themselves after the visibility timeout
        finally:
            self._dispose()

    # --- how -------------------------------------------------------------------------------------------

    def _claim(self, group: str, topics: list[str], limit: int) -> list[Event]:
        now = int(self._clock.now().timestamp() * 1000)
        offset = offsets.alias("o")
        held = deliveries.alias("d")
        candidates = (
            select(events)
            .outerjoin(offset, and_(offset.c.consumer_group == group, offset.c.topic == events.c.kind))
            .outerjoin(held, and_(held.c.consumer_group == group, held.c.seq == events.c.seq))
            .where(
                events.c.kind.in_(topics),
                events.c.seq > func.coalesce(offset.c.seq, 0),
                or_(held.c.seq.is_(None), and_(held.c.acked.is_(False), held.c.lease_until_ms <= now)),
            )
            .order_by(events.c.seq)
            .limit(limit)
        )
        with self._write() as conn:
            rows = {row.seq: row for row in conn.execute(candidates)}
            if not rows:
                return []
            stmt = self._insert(deliveries).values(
                [
                    {
                        "consumer_group": group,
                        "seq": row.seq,
                        "topic": row.kind,
                        "event_id": row.id,
                        "holder": self._holder,
                        "lease_until_ms": now + self._visibility_ms,
                        "acked": False,
                        "attempts": 1,
                    }
                    for row in rows.values()
                ]
            )
            # A concurrent consumer of the same group may have claimed a row since we read it: the conditional
            # update re-checks the lease on the row as it is now, so only one of us gets each event.
            stmt = stmt.on_conflict_do_update(
                index_elements=["consumer_group", "seq"],
                set_={
                    "holder": stmt.excluded.holder,
                    "lease_until_ms": stmt.excluded.lease_until_ms,
                    "attempts": deliveries.c.attempts + 1,
                },
                where=and_(deliveries.c.acked.is_(False), deliveries.c.lease_until_ms <= now),
            )
            claimed = sorted(seq for (seq,) in conn.execute(stmt.returning(deliveries.c.seq)))
        return [
            Event(
                rows[seq].id,
                rows[seq].kind,
                load_payload(rows[seq].payload),
                rows[seq].app,
                from_ms(rows[seq].created_ms),
            )
            for seq in claimed
        ]

    def _advance(self, group: str, topics: list[str]) -> None:
        """Move the group's offsets past what is acked and final; skipped (until a later ack) if it must wait."""
        try:
            with self._write() as conn:
                if self._postgres:
                    conn.execute(text("LOCK TABLE events IN SHARE MODE NOWAIT"))
                horizon = conn.execute(select(func.max(events.c.seq))).scalar()
                if horizon is None:
                    return
                for topic in topics:
                    self._advance_topic(conn, group, topic, horizon)
        except DBAPIError as exc:
            if _lock_not_available(exc):
                return  # a publisher is mid-transaction: its sequence number may still land below the horizon
            raise

    def _advance_topic(self, conn: Connection, group: str, topic: str, horizon: int) -> None:
        current = conn.execute(
            select(offsets.c.seq).where(offsets.c.consumer_group == group, offsets.c.topic == topic)
        ).scalar()
        start = current or 0
        held = deliveries.alias("d")
        first_open = conn.execute(
            select(func.min(events.c.seq))
            .outerjoin(held, and_(held.c.consumer_group == group, held.c.seq == events.c.seq))
            .where(
                events.c.kind == topic,
                events.c.seq > start,
                events.c.seq <= horizon,
                or_(held.c.seq.is_(None), held.c.acked.is_(False)),
            )
        ).scalar()
        target = horizon if first_open is None else first_open - 1
        if target <= start:
            return
        stmt = self._insert(offsets).values(consumer_group=group, topic=topic, seq=target)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["consumer_group", "topic"], set_={"seq": target}, where=offsets.c.seq < target
            )
        )
        conn.execute(
            delete(deliveries).where(
                deliveries.c.consumer_group == group,
                deliveries.c.topic == topic,
                deliveries.c.seq <= target,
            )
        )

    def _insert(self, table: Any) -> Any:
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except (OperationalError, sqlite3.OperationalError) as exc:
            if isinstance(exc, DBAPIError) and _lock_not_available(exc):
                raise
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> BackendUnavailableError:
        orig = getattr(exc, "orig", None) or exc
        reason = str(orig).strip().splitlines()[0]
        return BackendUnavailableError(
            f"The event bus database at {_hide_password(self._url)} failed: {reason}. "
            "Check that the server is running and reachable."
        )

    def _dispose(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("This SqlBus is closed; open a new one with open_bus(url).")
