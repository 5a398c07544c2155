"""Exactly-once effects on top of at-least-once delivery: record the event id in the effect's transaction.

A redelivered event is normal (a consumer died between its work and its ack), so a consumer must make
processing an event twice harmless. The robust way is to write "group G processed event E" in the *same*
transaction as the effects of E: either both commit or neither does. :func:`claim` is that write, on the
caller's SQLAlchemy connection (the metadata store's engine, which the controller writes through anyway):

    with meta.engine.begin() as conn:
        if claim(conn, "controller", event.id):
            ...  # the effects, on conn
    bus.ack("controller", [event.id])

The insert takes the row's unique-key lock, so two consumers handed the same event at once cannot both
proceed: the second waits for the first to commit and then finds the id (on SQLite, writers are serialized).
A dedup that is not in the effect's transaction (a ``seen``/``mark`` pair around the work) has a window where
the work is done and not yet marked, so it cannot give this guarantee; that is why there is no such pair.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from ctml.bus._base import check_event_id, check_group
from ctml.bus._tables import processed
from ctml.clock import Clock, WallClock

__all__ = ["claim"]

_WALL = WallClock()


def claim(conn: Connection, group: str, event_id: str, *, clock: Clock | None = None) -> bool:
    """Record that ``group`` processed ``event_id``, in ``conn``'s transaction; False if it already had.

    Do the event's effects only when this returns True, on the same connection, before the transaction
    commits. The table (``bus_processed``) comes with metadata schema revision 0004.
    """
    check_group(group)
    check_event_id(event_id)
    now_ms = int((clock or _WALL).now().timestamp() * 1000)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(processed).on_conflict_do_nothing(index_elements=["consumer_group", "event_id"])
    row = {"consumer_group": group, "event_id": event_id, "processed_ms": now_ms}
    return conn.execute(stmt.returning(processed.c.event_id), row).first() is not None
