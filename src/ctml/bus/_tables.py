"""The SQL bus's tables, declared with the metadata store's schema (``ctml.meta._schema``; migration 0004).

``events`` is the metadata store's outbox table. The bus adds three tables:

- ``bus_deliveries``: one row per (group, event) handed out above the group's offset: who holds it, until
  when, and whether it was acked. It is what makes the bus correct when commits land out of sequence order.
- ``bus_offsets``: per (group, topic), a sequence number at or below which every event is acked and no
  event can still appear; rows below it are deleted from ``bus_deliveries``, so the table stays small.
- ``bus_processed``: event ids a group has processed, written in the consumer's own transaction
  (:func:`ctml.bus.claim`): exactly-once effects on top of at-least-once delivery.
"""

from __future__ import annotations

from ctml.meta._schema import METADATA as BUS_METADATA
from ctml.meta._schema import bus_deliveries as deliveries
from ctml.meta._schema import bus_offsets as offsets
from ctml.meta._schema import bus_processed as processed
from ctml.meta._schema import events

__all__ = ["BUS_METADATA", "deliveries", "events", "offsets", "processed"]
