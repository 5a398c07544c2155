"""Event bus (L1 port): events with ids, delivered at least once to consumer groups until acked.

Pick a backend by URL with :func:`open_bus` (``memory://``, ``sqlite:///...``, ``postgresql://...``,
``redis://...``, ``nats://...``); every backend satisfies :class:`Bus` and passes the conformance suite in
:mod:`ctml.testing.bus`. Consumers deduplicate by event id; :func:`claim` does it in the consumer's own SQL
transaction, which turns at-least-once delivery into exactly-once effects. ``docs/bus.md`` is the guide.

>>> bus = open_bus("memory://")
>>> event_id = bus.publish("new_data", {"source": "s3://landing/2024-05-01.parquet"}, app="churn")
>>> [(event.topic, event.app) for event in bus.consume("controller", ["new_data", "retrain"])]
[('new_data', 'churn')]
>>> bus.ack("controller", [event_id])
"""

from ctml.bus._base import Bus, Event
from ctml.bus._memory import MemoryBus, MemoryLog
from ctml.bus._nats import NatsBus
from ctml.bus._once import claim
from ctml.bus._open import open_bus
from ctml.bus._redis import RedisBus
from ctml.bus._sql import SqlBus

__all__ = ["Bus", "Event", "MemoryBus", "MemoryLog", "NatsBus", "RedisBus", "SqlBus", "claim", "open_bus"]
