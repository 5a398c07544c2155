"""``NatsBus``: a JetStream stream, a durable pull consumer per (group, topic), explicit acks.

nats-py is asyncio; the bus runs its own event loop on a private daemon thread and every call waits for its
coroutine there, so the :class:`~ctml.bus.Bus` API stays synchronous and callers need no loop of their own.

The stream (``CTML`` by default) holds the subjects ``{prefix}.>`` (``ctml.>``); a topic is the subject
``{prefix}.{topic}``. The bus creates the stream when it is missing (file storage, two minutes of duplicate
detection). Publishing sets the ``Nats-Msg-Id`` header to the event id, so the server drops a re-publish within
the stream's duplicate window; after that, consumers dedupe by id. A consumer's ``ack_wait`` is the visibility
timeout; closing a bus naks what it held, so it is delivered again at once. Order is the stream's within a
topic; redeliveries can come after newer messages.

A message written by someone else (``nats pub ctml.retrain '{"payload": {...}}'``) is a JSON object with
``payload``; ``id`` (or the ``Nats-Msg-Id`` header), ``app`` and ``created_ms`` are optional. A message that is
not an event is logged and terminated (never redelivered), so one bad message never blocks a group.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import threading
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ctml.bus._base import Event, check_consume, check_group, check_ids, decode, new_event, to_ms
from ctml.clock import Clock, WallClock
from ctml.errors import BackendUnavailableError, ConfigError, MissingExtraError
from ctml.types import JSONObject

__all__ = ["NatsBus"]

_LOG = logging.getLogger(__name__)
_REAL_TIME = WallClock()
_T = TypeVar("_T")
_SLICE = 0.2  # longest single fetch while waiting on several topics


class NatsBus:
    """A :class:`~ctml.bus.Bus` on NATS JetStream at ``url`` (``nats://host:port``)."""

    def __init__(
        self,
        url: str,
        *,
        stream: str = "CTML",
        prefix: str = "ctml",
        clock: Clock | None = None,
        visibility: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        try:
            import nats
        except ImportError:
            raise MissingExtraError("nats", "A NATS JetStream event bus", "nats-py") from None
        if not visibility > 0:
            raise ConfigError(f"The 'visibility' parameter of NatsBus must be seconds > 0. Got {visibility!r}.")
        parts = urlsplit(url)
        if not parts.hostname:
            raise ConfigError(f"A NATS URL needs a host, like nats://127.0.0.1:4222. Got {url!r}.")
        self._url = url
        self._where = f"nats://{parts.hostname}:{parts.port or 4222}"
        self._stream = stream
        self._prefix = prefix
        self._clock = clock or WallClock()
        self._visibility = float(visibility)
        self._timeout = timeout
        self._subs: dict[tuple[str, str], Any] = {}
        self._held: dict[tuple[str, str], list[Any]] = {}  # (group, event id) -> messages
        self._closed = False
        self._probe(parts.hostname, parts.port or 4222)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ctml-nats-bus", daemon=True)
        self._thread.start()
        try:
            self._nc: Any = self._run(self._connect(nats, url))
            self._js: Any = self._nc.jetstream(timeout=timeout)
            self._run(self._ensure_stream())
        except BaseException:
            self._stop_loop()
            raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> NatsBus:
        return cls(url, **options)

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"NatsBus({self._where!r}, stream={self._stream!r})"

    def publish(self, topic: str, payload: JSONObject, *, app: str | None = None, id: str | None = None) -> str:
        self._check_open()
        event = new_event(self._clock, topic, payload, app, id)
        body = json.dumps(
            {"id": event.id, "app": event.app, "payload": event.payload, "created_ms": to_ms(event.created)},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        subject = f"{self._prefix}.{event.topic}"
        self._run(self._js.publish(subject, body, headers={"Nats-Msg-Id": event.id}, stream=self._stream))
        return event.id

    def consume(self, group: str, topics: str | Sequence[str], *, max: int = 100, block: float = 0.0) -> list[Event]:
        self._check_open()
        group, names = check_consume(group, topics, max, block)
        return self._run(self._consume(group, names, max, block), extra=block)

    def ack(self, group: str, ids: Iterable[str]) -> None:
        self._check_open()
        check_group(group)
        messages = [message for event_id in check_ids(ids) for message in self._held.pop((group, event_id), [])]
        if messages:
            self._run(self._ack(messages))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        held = [message for messages in self._held.values() for message in messages]
        self._held.clear()
        try:
            self._run(self._shutdown(held))
        except BackendUnavailableError:
            pass  # unacked messages come back after ack_wait by themselves
        finally:
            self._stop_loop()

    # --- on the loop thread ------------------------------------------------------------------------------

    async def _connect(self, nats: Any, url: str) -> Any:
        async def quiet(_error: Exception) -> None:
            return None  # failures surface as exceptions of the call that met them

        return await nats.connect(
            servers=[url], connect_timeout=self._timeout, allow_reconnect=True, max_reconnect_attempts=5, error_cb=quiet
        )

    async def _ensure_stream(self) -> None:
        from nats.js.api import StreamConfig
        from nats.js.errors import NotFoundError

        try:
            await self._js.stream_info(self._stream)
        except NotFoundError:
            config = StreamConfig(name=self._stream, subjects=[f"{self._prefix}.>"], duplicate_window=120.0)
            await self._js.add_stream(config)

    async def _subscription(self, group: str, topic: str) -> Any:
        sub = self._subs.get((group, topic))
        if sub is None:
            from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

            # One durable consumer per (group, topic); the hash keeps 'a_b'+'c' and 'a'+'b_c' apart.
            tag = hashlib.sha256(f"{group}\0{topic}".encode()).hexdigest()[:8]
            durable = f"{group}_{topic}_{tag}"
            config = ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self._visibility,
                max_deliver=-1,
                max_ack_pending=10_000,
            )
            subject = f"{self._prefix}.{topic}"
            sub = await self._js.pull_subscribe(subject, durable=durable, stream=self._stream, config=config)
            self._subs[(group, topic)] = sub
        return sub

    async def _consume(self, group: str, topics: list[str], limit: int, block: float) -> list[Event]:
        import nats.errors

        loop = asyncio.get_running_loop()
        deadline = loop.time() + block
        batch: list[Event] = []
        while True:
            for topic in topics:
                if len(batch) >= limit:
                    break
                sub = await self._subscription(group, topic)
                remaining = deadline - loop.time()
                wait = remaining if len(topics) == 1 else _SLICE
                wait = max(0.05, min(wait, remaining)) if not batch else 0.05
                try:
                    messages = await sub.fetch(limit - len(batch), timeout=wait)
                except (TimeoutError, nats.errors.TimeoutError):
                    # nats-py raises the plain (asyncio.)TimeoutError when the deadline runs out between its
                    # no-wait probe and its waiting request: an empty fetch too, not a broken server.
                    continue
                batch.extend(await self._events(group, topic, messages))
            if batch or loop.time() >= deadline:
                return batch

    async def _events(self, group: str, topic: str, messages: list[Any]) -> list[Event]:
        found = []
        for message in messages:
            meta = message.metadata
            fallback_id = (message.headers or {}).get("Nats-Msg-Id") or f"nats-{meta.sequence.stream}"
            try:
                fields = json.loads(message.data)
                if not isinstance(fields, dict):
                    raise ValueError("the message is not a JSON object")
                event = decode(topic, fields, fallback_id, int(meta.timestamp.timestamp() * 1000))
            except ValueError as exc:
                _LOG.warning("Terminating message %s on %s: not a ctml event (%s).", fallback_id, message.subject, exc)
                await message.term()
                continue
            self._held.setdefault((group, event.id), []).append(message)
            found.append(event)
        return found

    async def _ack(self, messages: list[Any]) -> None:
        for message in messages:
            await message.ack()
        await self._nc.flush(timeout=self._timeout)

    async def _shutdown(self, held: list[Any]) -> None:
        try:
            for message in held:
                await message.nak()
            await self._nc.flush(timeout=self._timeout)
        finally:
            await self._nc.close()

    # --- plumbing --------------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, _T], extra: float = 0.0) -> _T:
        import nats.errors

        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=self._timeout * 2 + extra + 1)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            future.cancel()
            raise BackendUnavailableError(
                f"NATS at {self._where} failed: {exc!r}. Check that the server is running with JetStream "
                "enabled (nats-server -js) and the URL (CTML_BUS_URL) is right."
            ) from None

    def _probe(self, host: str, port: int) -> None:
        # nats-py retries an unreachable server for ever on the first connect; a plain socket fails at once.
        try:
            socket.create_connection((host, port), timeout=self._timeout).close()
        except OSError as exc:
            raise BackendUnavailableError(
                f"Cannot reach NATS at {self._where}: {exc}. Check that nats-server is running (with -js for "
                "JetStream) and the URL (CTML_BUS_URL) is right."
            ) from None

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("This NatsBus is closed; open a new one with open_bus(url).")
