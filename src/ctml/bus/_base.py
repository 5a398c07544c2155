"""The bus port: :class:`Event`, the :class:`Bus` protocol, and the input rules every backend shares.

Delivery is *at least once*: an event is handed to a consumer group until the group acks it, so a consumer
that crashes between doing the work and acking sees the event again. Consumers therefore deduplicate by event
id (:func:`ctml.bus.claim` does it in the consumer's own SQL transaction). What a backend must never do is skip
an event: every event published on a topic is delivered to every group that reads the topic, including groups
that start reading after it was published.

Names are checked here, once, before they reach a backend: a topic or group becomes a NATS subject token, a
Redis key and a SQL value, so the rule is the narrowest of the three.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from ctml.clock import Clock
from ctml.errors import ConfigError
from ctml.ids import new_id
from ctml.types import JSONObject

__all__ = [
    "Bus",
    "Event",
    "check_app",
    "check_consume",
    "check_event_id",
    "check_group",
    "check_ids",
    "check_payload",
    "check_topic",
    "decode",
    "dump_payload",
    "from_ms",
    "load_payload",
    "new_event",
    "to_ms",
]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_BATCH = 10_000


@dataclass(frozen=True)
class Event:
    """One event: ``id`` deduplicates it, ``topic`` routes it, ``payload`` is a JSON object.

    ``created`` is the publisher's clock, cut to the millisecond (what every backend keeps).
    """

    id: str
    topic: str
    payload: JSONObject
    app: str | None
    created: datetime


@runtime_checkable
class Bus(Protocol):
    """Events with ids, delivered at least once to each consumer group until acked.

    Unacked events come back after the bus's visibility timeout (a consumer that crashed), or at the next
    ``consume`` once the bus that received them was closed (a consumer that stopped cleanly).
    """

    @property
    def url(self) -> str:
        """Where the bus lives, in the form :func:`ctml.bus.open_bus` accepts."""
        ...

    def publish(self, topic: str, payload: JSONObject, *, app: str | None = None, id: str | None = None) -> str:
        """Append an event and return its id (a new time-ordered id unless ``id`` is given).

        Publishing an id twice stores it once where the backend can tell (memory, SQL always; Redis for the
        dedup window; NATS for the stream's duplicate window); consumers deduplicate by id regardless.
        """
        ...

    def consume(self, group: str, topics: str | Sequence[str], *, max: int = 100, block: float = 0.0) -> list[Event]:
        """Up to ``max`` events on ``topics`` that ``group`` has not acked and nobody holds; waits up to
        ``block`` seconds for the first one. The events are held for this bus until acked or timed out."""
        ...

    def ack(self, group: str, ids: Iterable[str]) -> None:
        """Mark events ``consume`` returned to this bus as done for ``group``; unknown ids are ignored."""
        ...

    def close(self) -> None:
        """Release held, unacked events (they are delivered again at once) and the connection."""
        ...


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def check_topic(topic: object) -> str:
    if isinstance(topic, str) and _NAME.match(topic):
        return topic
    raise ConfigError(
        "An event topic must be 1-64 letters, digits, '_' or '-' (it becomes a NATS subject token and a Redis "
        f"key), like 'new_data' or 'retrain'. Got {topic!r}."
    )


def check_group(group: object) -> str:
    if isinstance(group, str) and _NAME.match(group):
        return group
    raise ConfigError(f"A consumer group must be 1-64 letters, digits, '_' or '-', like 'controller'. Got {group!r}.")


def check_event_id(event_id: object) -> str:
    if isinstance(event_id, str) and _ID.match(event_id):
        return event_id
    raise ConfigError(
        "An event id must be 1-128 letters, digits, '_', '.', ':' or '-', like '01HK153X00ABCDEFGHJKMNPQRS' "
        f"(leave it out and the bus makes one). Got {event_id!r}."
    )


def check_app(app: object) -> str | None:
    if app is None or (isinstance(app, str) and 0 < len(app) <= 255):
        return app
    raise ConfigError(f"An event's app must be None or a non-empty string of at most 255 characters. Got {app!r}.")


def check_payload(payload: object) -> JSONObject:
    if not isinstance(payload, dict):
        raise ConfigError(
            f"An event payload must be a JSON object (a dict), like {{'rows': 1200}}. Got {type(payload).__name__}."
        )
    dump_payload(payload)  # refuses what JSON cannot carry, before anything is stored
    return payload


def check_ids(ids: Iterable[str]) -> list[str]:
    if isinstance(ids, str):
        raise ConfigError(f"ack takes a list of event ids, not one string. Got {ids!r}; pass [{ids!r}].")
    return [check_event_id(event_id) for event_id in ids]


def check_consume(group: str, topics: str | Sequence[str], max: int, block: float) -> tuple[str, list[str]]:
    """The group and the distinct topics, or a :class:`ConfigError` naming the argument that is wrong."""
    check_group(group)
    names = [topics] if isinstance(topics, str) else list(topics)
    if not names:
        raise ConfigError("consume needs at least one topic, like ['new_data', 'retrain']. Got none.")
    unique = list(dict.fromkeys(check_topic(name) for name in names))
    if isinstance(max, bool) or not isinstance(max, int) or not 1 <= max <= MAX_BATCH:
        raise ConfigError(f"The 'max' parameter of consume must be an int in [1, {MAX_BATCH}]. Got {max!r}.")
    if (
        isinstance(block, bool)
        or not isinstance(block, (int, float))
        or not math.isfinite(block)
        or not 0 <= block <= 3600
    ):
        raise ConfigError(f"The 'block' parameter of consume must be seconds in [0, 3600]. Got {block!r}.")
    return group, unique


def dump_payload(payload: JSONObject) -> str:
    """Canonical JSON text: sorted keys, no spaces, no NaN; the same on every backend."""
    try:
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"An event payload must be plain JSON (no NaN, no objects of other types): {exc}.") from None


def load_payload(text: str | bytes) -> JSONObject:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"an event payload must be a JSON object, not {type(value).__name__}")
    return value


def new_event(clock: Clock, topic: str, payload: JSONObject, app: str | None, event_id: str | None) -> Event:
    """A checked event stamped by ``clock``; its id is a new time-ordered id unless one is given."""
    now = clock.now()
    return Event(
        new_id(now) if event_id is None else check_event_id(event_id),
        check_topic(topic),
        check_payload(payload),
        check_app(app),
        from_ms(to_ms(now)),
    )


def decode(topic: str, fields: Mapping[str, object], fallback_id: str, fallback_ms: int) -> Event:
    """An event from a message written by someone else (``redis-cli XADD``, ``nats pub``); ``ValueError`` if it
    is not one.

    Only ``payload`` is required: a JSON object, or its JSON text. ``id`` falls back to one derived from the
    message's place in the stream (stable across redeliveries), ``created_ms`` to the server's timestamp.
    """
    payload = fields.get("payload")
    if isinstance(payload, (str, bytes)):
        payload = load_payload(payload)
    if not isinstance(payload, dict):
        raise ValueError("the message has no 'payload' field holding a JSON object")
    event_id = fields.get("id") or fallback_id
    app = fields.get("app") or None
    created = fields.get("created_ms") or fallback_ms
    try:
        created_ms = int(str(created))
        return Event(
            check_event_id(event_id), check_topic(topic), check_payload(payload), check_app(app), from_ms(created_ms)
        )
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
