"""The SQL outbox: out-of-order commits on PostgreSQL are never skipped; offsets move only past final rows;
:func:`ctml.bus.claim` gives exactly-once effects in the consumer's transaction."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from ctml.bus import SqlBus, claim, open_bus
from ctml.bus._tables import deliveries, events, offsets
from ctml.errors import SchemaVersionError


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.mark.postgres
def test_earlier_sequence_committing_last_is_not_skipped(postgres_url: str) -> None:
    bus = SqlBus(postgres_url)
    engine = _engine(postgres_url)
    try:
        with engine.connect() as slow:
            transaction = slow.begin()
            slow.execute(insert(events).values(id="slow", kind="retrain", app=None, payload="{}", created_ms=1))
            early = slow.execute(select(events.c.seq).where(events.c.id == "slow")).scalar_one()
            fast_id = bus.publish("retrain", {"fast": True})  # takes a later seq, commits first
            got = bus.consume("controller", ["retrain"])
            assert [e.id for e in got] == [fast_id]
            bus.ack("controller", [fast_id])  # the offset must not move past the slow, uncommitted seq
            transaction.commit()
        late = bus.consume("controller", ["retrain"])
        assert [e.id for e in late] == ["slow"]
        bus.ack("controller", ["slow"])
        assert bus.consume("controller", ["retrain"]) == []
        with engine.connect() as conn:
            offset = conn.execute(select(offsets.c.seq).where(offsets.c.consumer_group == "controller")).scalar()
            held = conn.execute(select(func.count()).select_from(deliveries)).scalar()
        assert offset is not None
        assert offset > early, "once nothing is in flight the offset moves past both"
        assert held == 0, "delivery rows below the offset are removed"
    finally:
        bus.close()
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_claim_gives_exactly_once_effects(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            assert claim(conn, "controller", "event-1")
            assert not claim(conn, "controller", "event-1")
            assert claim(conn, "other-group", "event-1")
        with engine.connect() as conn:
            transaction = conn.begin()
            assert claim(conn, "controller", "event-2")
            transaction.rollback()  # the effects failed: the claim rolls back with them
        with engine.begin() as conn:
            assert claim(conn, "controller", "event-2")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_concurrent_claims_of_one_event_let_one_through(postgres_url: str) -> None:
    engine = _engine(postgres_url)
    results: list[bool] = []
    first_claimed = threading.Event()

    def second() -> None:
        first_claimed.wait()
        with engine.begin() as conn:
            results.append(claim(conn, "controller", "event-x"))  # waits for the first transaction

    thread = threading.Thread(target=second)
    thread.start()
    try:
        with engine.begin() as conn:
            results.append(claim(conn, "controller", "event-x"))
            first_claimed.set()
            conn.execute(text("SELECT pg_sleep(0.3)"))
        thread.join()
        assert results == [True, False]
    finally:
        engine.dispose()


def test_database_without_bus_tables_says_to_migrate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SchemaVersionError, match="open_meta"):
        open_bus(f"sqlite:///{tmp_path / 'empty.db'}")


def test_publish_dedups_with_meta_events_table(sqlite_url: str) -> None:
    from ctml.meta import open_meta

    bus = SqlBus(sqlite_url)
    with open_meta(sqlite_url) as meta:
        assert meta.events.append("outside-1", "new_data", {"rows": 10}, app="churn")
        bus.publish("new_data", {"rows": 99}, id="outside-1")
        got = bus.consume("controller", ["new_data"])
        assert [(e.id, e.payload, e.app) for e in got] == [("outside-1", {"rows": 10}, "churn")]
    bus.close()
