"""``RedisBus``: one Redis stream per topic, a consumer group per group (XADD, XREADGROUP, XACK, XAUTOCLAIM).

Keys, under a ``prefix`` (default ``ctml``): ``{prefix}:events:{topic}`` is a topic's stream;
``{prefix}:ids:{id}`` remembers a published id for ``dedup_ttl`` seconds (7 days by default), so a re-publish
within that window is dropped. A group is created at the start of the stream (``XGROUP CREATE ... 0``), so a
group that starts late still gets every event. Unacked entries stay in the group's pending list and are taken
over by any consumer once idle for ``visibility`` seconds (``XAUTOCLAIM``); closing a bus marks what it held
as idle at once. Order is the stream's within a topic; redeliveries come before new entries.

An entry written by someone else needs one field, ``payload`` (JSON object text); ``id``, ``app`` and
``created_ms`` are optional (see ``docs/bus.md``). An entry that is not an event is logged and acked, so one
bad message never blocks a group.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ctml.bus._base import (
    Event,
    check_consume,
    check_group,
    check_ids,
    decode,
    dump_payload,
    new_event,
    to_ms,
)
from ctml.clock import Clock, WallClock
from ctml.errors import BackendUnavailableError, ConfigError, MissingExtraError
from ctml.types import JSONObject

__all__ = ["RedisBus"]

_LOG = logging.getLogger(__name__)
_REAL_TIME = WallClock()
_RELEASED_IDLE_MS = 10 * 365 * 24 * 3600 * 1000

# SET NX then XADD, atomically: a re-published id is dropped, and a crash cannot leave the id without the entry.
_PUBLISH = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[5]) then
  return redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'app', ARGV[2], 'payload', ARGV[3], 'created_ms', ARGV[4])
end
return false
"""


class RedisBus:
    """A :class:`~ctml.bus.Bus` on Redis Streams at ``url`` (``redis://host:port/db``)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ctml",
        clock: Clock | None = None,
        visibility: float = 30.0,
        dedup_ttl: float = 7 * 24 * 3600,
    ) -> None:
        try:
            import redis
        except ImportError:
            raise MissingExtraError("redis", "A Redis Streams event bus", "redis") from None
        if not visibility > 0:
            raise ConfigError(f"The 'visibility' parameter of RedisBus must be seconds > 0. Got {visibility!r}.")
        if not dedup_ttl >= 1:
            raise ConfigError(f"The 'dedup_ttl' parameter of RedisBus must be seconds >= 1. Got {dedup_ttl!r}.")
        self._url = url
        self._prefix = prefix
        self._clock = clock or WallClock()
        self._visibility_ms = max(1, int(visibility * 1000))
        self._dedup_ttl = int(dedup_ttl)
        self._consumer = uuid.uuid4().hex
        self._errors: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
        self._response_error: type[Exception] = redis.ResponseError
        self._groups: set[tuple[str, str]] = set()
        self._held: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (group, event id) -> [(key, entry id)]
        self._closed = False
        try:
            self._redis: Any = redis.Redis.from_url(url, socket_connect_timeout=5, decode_responses=True)
        except ValueError as exc:
            raise ConfigError(
                f"Cannot parse the Redis URL {url!r}: {exc}. Expected e.g. redis://127.0.0.1:6379/0."
            ) from None
        self._call(self._redis.ping)
        self._publish = self._redis.register_script(_PUBLISH)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBus:
        return cls(url, **options)

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"RedisBus({self._where()!r}, prefix={self._prefix!r})"

    def publish(self, topic: str, payload: JSONObject, *, app: str | None = None, id: str | None = None) -> str:
        self._check_open()
        event = new_event(self._clock, topic, payload, app, id)
        args = [event.id, event.app or "", dump_payload(event.payload), to_ms(event.created), self._dedup_ttl]
        self._call(self._publish, keys=[self._stream(event.topic), f"{self._prefix}:ids:{event.id}"], args=args)
        return event.id

    def consume(self, group: str, topics: str | Sequence[str], *, max: int = 100, block: float = 0.0) -> list[Event]:
        self._check_open()
        group, names = check_consume(group, topics, max, block)
        for topic in names:
            self._ensure_group(group, topic)
        deadline = _REAL_TIME.monotonic() + block
        while True:
            batch = self._reclaim(group, names, max)
            if len(batch) < max:
                remaining = deadline - _REAL_TIME.monotonic()
                # Wait in slices no longer than the visibility timeout, so a stale entry is taken over in time.
                wait = int(min(remaining, self._visibility_ms / 1000) * 1000) if not batch and remaining > 0 else 0
                streams = {self._stream(topic): ">" for topic in names}
                reply = self._call(
                    self._redis.xreadgroup, group, self._consumer, streams, count=max - len(batch), block=wait or None
                )
                for key, entries in reply or []:
                    batch.extend(self._events(group, key, entries))
            if batch or _REAL_TIME.monotonic() >= deadline:
                return batch[:max]

    def ack(self, group: str, ids: Iterable[str]) -> None:
        self._check_open()
        check_group(group)
        by_key: dict[str, list[str]] = {}
        for event_id in check_ids(ids):
            for key, entry in self._held.pop((group, event_id), []):
                by_key.setdefault(key, []).append(entry)
        for key, entries in by_key.items():
            self._call(self._redis.xack, key, group, *entries)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            # Mark what we hold as idle for longer than any visibility timeout: the next consumer takes it over.
            for (group, _), handles in self._held.items():
                for key, entry in set(handles):
                    self._redis.xclaim(key, group, self._consumer, 0, [entry], idle=_RELEASED_IDLE_MS, justid=True)
        except (*self._errors, self._response_error):
            pass  # the entries go idle by themselves (or their stream is gone)
        finally:
            self._held.clear()
            self._redis.close()

    # --- how -------------------------------------------------------------------------------------------

    def _reclaim(self, group: str, topics: list[str], limit: int) -> list[Event]:
        batch: list[Event] = []
        for topic in topics:
            key, cursor = self._stream(topic), "0-0"
            while len(batch) < limit:
                reply = self._call(
                    self._redis.xautoclaim,
                    key,
                    group,
                    self._consumer,
                    self._visibility_ms,
                    start_id=cursor,
                    count=limit - len(batch),
                )
                cursor, entries = reply[0], reply[1]
                batch.extend(self._events(group, key, entries))
                if cursor == "0-0":
                    break
        return batch

    def _events(self, group: str, key: str, entries: list[tuple[str, dict[str, str] | None]]) -> list[Event]:
        topic = key.rsplit(":", 1)[1]
        found: list[Event] = []
        for entry, fields in entries:
            if fields is None:  # trimmed away while pending: nothing left to deliver
                self._call(self._redis.xack, key, group, entry)
                continue
            try:
                event = decode(topic, fields, f"redis-{entry.replace('-', '.')}", int(entry.split("-", 1)[0]))
            except ValueError as exc:
                _LOG.warning("Dropping entry %s of Redis stream %s: not a ctml event (%s).", entry, key, exc)
                self._call(self._redis.xack, key, group, entry)
                continue
            handles = self._held.setdefault((group, event.id), [])
            if (key, entry) not in handles:
                handles.append((key, entry))
            found.append(event)
        return found

    def _ensure_group(self, group: str, topic: str) -> None:
        if (group, topic) in self._groups:
            return
        import redis

        try:
            self._call(self._redis.xgroup_create, self._stream(topic), group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((group, topic))

    def _stream(self, topic: str) -> str:
        return f"{self._prefix}:events:{topic}"

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except self._errors as exc:
            raise BackendUnavailableError(
                f"Cannot reach Redis at {self._where()}: {exc}. Check that the server is running and the URL "
                "(CTML_BUS_URL) is right."
            ) from None

    def _where(self) -> str:
        parts = urlsplit(self._url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("This RedisBus is closed; open a new one with open_bus(url).")
