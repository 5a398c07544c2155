"""The SQL bus's tables. Migration 0004 of the metadata store creates them (see :mod:`ctml.bus._sql`).

``events`` is the metadata store's outbox table, declared again here because ``ctml.bus`` may not import
``ctml.meta`` (both are L1 ports); the migrations are what the two share. The bus adds three tables:

- ``bus_deliveries``: one row per (group, event) handed out above the group's offset: who holds it, until
  when, and whether it was acked. It is what makes the bus correct when commits land out of sequence order.
- ``bus_offsets``: per (group, topic), a sequence number at or below which every event is acked and no
  event can still appear; rows below it are deleted from ``bus_deliveries``, so the table stays small.
- ``bus_processed``: event ids a group has processed, written in the consumer's own transaction
  (:func:`ctml.bus.claim`): exactly-once effects on top of at-least-once delivery.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

__all__ = ["BUS_METADATA", "deliveries", "events", "offsets", "processed"]

BUS_METADATA = MetaData()

_SEQ = BigInteger().with_variant(Integer, "sqlite")

events = Table(
    "events",
    BUS_METADATA,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("id", String(255), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("app", String(255), nullable=True),
    Column("payload", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_events_kind_seq", "kind", "seq"),
)

deliveries = Table(
    "bus_deliveries",
    BUS_METADATA,
    Column("consumer_group", String(64), primary_key=True),
    Column("seq", _SEQ, primary_key=True, autoincrement=False),
    Column("topic", String(64), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("holder", String(32), nullable=False),
    Column("lease_until_ms", BigInteger, nullable=False),
    Column("acked", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Index("ix_bus_deliveries_group_event", "consumer_group", "event_id"),
)

offsets = Table(
    "bus_offsets",
    BUS_METADATA,
    Column("consumer_group", String(64), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

processed = Table(
    "bus_processed",
    BUS_METADATA,
    Column("consumer_group", String(64), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("processed_ms", BigInteger, nullable=False),
)
