"""The event bus conformance suite: the checks every :class:`~ctml.bus.Bus` must pass.

Each check is a plain function that takes a *harness* and raises ``AssertionError`` saying what was wrong. A
harness makes buses with a short visibility timeout: :meth:`BusHarness.new_bus` on a fresh namespace, and
:meth:`BusHarness.reopen` another bus on the same namespace (a second process, or the same consumer after a
restart). Checks use topic and group names of their own, so a namespace may be shared.

Ordering: every backend delivers one topic's events in publish order to a group, for a publisher that
publishes one after another, on first delivery (what :func:`check_order_per_topic` checks). Redeliveries may
come after newer events, and on PostgreSQL two publishers whose transactions overlap may be seen in commit
order rather than sequence order; no backend orders events across topics.

>>> with MemoryHarness() as harness:
...     check_bus(harness, [check_round_trip, check_bad_input_refused])
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

from ctml.bus import Bus, Event, MemoryBus, MemoryLog, NatsBus, RedisBus, SqlBus
from ctml.clock import WallClock
from ctml.errors import ConfigError
from ctml.testing._assertions import expect as _expect
from ctml.testing._assertions import raises as _raises

__all__ = [
    "BUS_CHECKS",
    "BusHarness",
    "MemoryHarness",
    "NatsHarness",
    "RedisHarness",
    "SqlHarness",
    "check_ack_of_unknown_ids_is_ignored",
    "check_bad_input_refused",
    "check_bus",
    "check_consume_blocks_until_an_event",
    "check_groups_are_independent",
    "check_no_duplicates_after_ack",
    "check_no_loss_under_concurrent_publishers",
    "check_order_per_topic",
    "check_payload_json_round_trip",
    "check_redelivered_after_restart",
    "check_redelivered_after_visibility_timeout",
    "check_republished_id_is_deduplicated",
    "check_round_trip",
    "check_topics_are_separate",
]

_TIME = WallClock()
VISIBILITY = 1.0
"""The visibility timeout, in seconds, of the buses the harnesses below make: short, so checks wait little."""


class BusHarness(Protocol):
    """What the checks need from a backend's test set-up."""

    visibility: float

    def new_bus(self) -> Bus:
        """A bus on a fresh namespace, with a visibility timeout of ``visibility`` seconds."""
        ...

    def reopen(self, bus: Bus) -> Bus:
        """Another bus on ``bus``'s namespace: a second consumer process, or the first one restarted."""
        ...


class _Harness:
    visibility = VISIBILITY

    def __init__(self) -> None:
        self._opened: list[Bus] = []

    def _keep(self, bus: Bus) -> Bus:
        self._opened.append(bus)
        return bus

    def close(self) -> None:
        for bus in self._opened:
            bus.close()
        self._opened.clear()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class MemoryHarness(_Harness):
    """In-process buses; a reopened bus shares the first one's :class:`~ctml.bus.MemoryLog`."""

    def new_bus(self) -> Bus:
        return self._keep(MemoryBus(MemoryLog(), visibility=self.visibility))

    def reopen(self, bus: Bus) -> Bus:
        if not isinstance(bus, MemoryBus):
            raise TypeError(f"MemoryHarness reopens MemoryBus, not {type(bus).__name__}")
        return self._keep(MemoryBus(bus.log, visibility=self.visibility))


class SqlHarness(_Harness):
    """SQL buses on the database at ``url``, which must already carry the metadata schema (``open_meta``)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def new_bus(self) -> Bus:
        return self._keep(SqlBus(self.url, visibility=self.visibility))

    def reopen(self, bus: Bus) -> Bus:
        return self.new_bus()


class RedisHarness(_Harness):
    """Redis buses under fresh key prefixes; :meth:`close` deletes every key they made."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._prefixes: dict[int, str] = {}

    def new_bus(self) -> Bus:
        return self._open(f"ctml-test-{uuid.uuid4().hex[:12]}")

    def reopen(self, bus: Bus) -> Bus:
        return self._open(self._prefixes[id(bus)])

    def _open(self, prefix: str) -> Bus:
        bus = RedisBus(self.url, prefix=prefix, visibility=self.visibility)
        self._prefixes[id(bus)] = prefix
        return self._keep(bus)

    def close(self) -> None:
        import redis

        super().close()
        client = redis.Redis.from_url(self.url)
        try:
            for prefix in set(self._prefixes.values()):
                keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
                if keys:
                    client.delete(*keys)
        finally:
            client.close()
        self._prefixes.clear()


class NatsHarness(_Harness):
    """NATS buses on fresh streams (and subject prefixes); :meth:`close` deletes the streams."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._names: dict[int, str] = {}

    def new_bus(self) -> Bus:
        return self._open(f"ctml_test_{uuid.uuid4().hex[:12]}")

    def reopen(self, bus: Bus) -> Bus:
        return self._open(self._names[id(bus)])

    def _open(self, name: str) -> Bus:
        bus = NatsBus(self.url, stream=name.upper(), prefix=name, visibility=self.visibility)
        self._names[id(bus)] = name
        return self._keep(bus)

    def close(self) -> None:
        super().close()
        names = {name.upper() for name in self._names.values()}
        self._names.clear()
        if names:
            asyncio.run(_delete_streams(self.url, names))


async def _delete_streams(url: str, names: set[str]) -> None:
    import nats
    from nats.js.errors import NotFoundError

    client = await nats.connect(url)
    try:
        stream_admin = client.jetstream()
        for name in names:
            with contextlib.suppress(NotFoundError):
                await stream_admin.delete_stream(name)
    finally:
        await client.close()


# --- helpers ---------------------------------------------------------------------------------------------


def _names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    return f"topic-{tag}", f"group-{tag}"


def _drain(bus: Bus, group: str, topics: Sequence[str], want: int, *, wait: float = 10.0) -> list[Event]:
    """Consume (without acking) until ``want`` events came or ``wait`` seconds passed."""
    found: list[Event] = []
    deadline = _TIME.monotonic() + wait
    while len(found) < want and _TIME.monotonic() < deadline:
        found.extend(bus.consume(group, topics, max=100, block=min(1.0, max(deadline - _TIME.monotonic(), 0.0))))
    return found


# --- the checks ------------------------------------------------------------------------------------------


def check_round_trip(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    ids = [bus.publish(topic, {"n": n}, app="churn") for n in range(3)]
    _expect(len(set(ids)) == 3, f"publish must return a new id each time; got {ids}")
    got = _drain(bus, group, [topic], 3)
    _expect([event.id for event in got] == ids, f"consume should return the 3 events in order; got {got}")
    for n, event in enumerate(got):
        _expect(event.topic == topic and event.app == "churn" and event.payload == {"n": n}, f"wrong event {event}")
        _expect(event.created.tzinfo is not None, f"created must be timezone-aware; got {event.created!r}")
    bus.ack(group, ids)
    left = bus.consume(group, [topic])
    _expect(left == [], f"acked events must not come back; got {left}")


def check_payload_json_round_trip(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    payload: Any = {
        "text": 'naïve café ✓ \u2028 "quoted"',
        "int": 2**53 + 1,
        "neg": -7,
        "float": 0.1,
        "tiny": 5e-324,
        "flags": [True, False, None],
        "nested": {"a": {"b": [1, {"c": []}]}, "empty": {}},
    }
    event_id = bus.publish(topic, payload)
    got = _drain(bus, group, [topic], 1)
    _expect(len(got) == 1 and got[0].id == event_id, f"expected the one event back; got {got}")
    _expect(got[0].payload == payload, f"the payload changed on its way: {got[0].payload!r} != {payload!r}")
    bus.ack(group, [event_id])


def check_groups_are_independent(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    ids = [bus.publish(topic, {"n": n}) for n in range(4)]
    first = _drain(bus, f"{group}-a", [topic], 4)
    bus.ack(f"{group}-a", [event.id for event in first])
    # A group that starts reading after the events were published still gets every one of them.
    second = _drain(bus, f"{group}-b", [topic], 4)
    _expect([e.id for e in first] == ids, f"group a should see all 4 events; got {[e.id for e in first]}")
    _expect([e.id for e in second] == ids, f"group b should see all 4 events too; got {[e.id for e in second]}")
    bus.ack(f"{group}-b", ids)


def check_topics_are_separate(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    wanted = {bus.publish(f"{topic}-x", {}), bus.publish(f"{topic}-y", {})}
    other = bus.publish(f"{topic}-z", {})
    got = _drain(bus, group, [f"{topic}-x", f"{topic}-y"], 2)
    _expect({e.id for e in got} == wanted, f"consume should return only the two named topics; got {got}")
    _expect(other not in {e.id for e in got}, "an event of a topic not asked for was delivered")
    bus.ack(group, [e.id for e in got])


def check_redelivered_after_visibility_timeout(harness: BusHarness) -> None:
    first = harness.new_bus()
    second = harness.reopen(first)
    topic, group = _names()
    event_id = first.publish(topic, {"work": 1})
    got = _drain(first, group, [topic], 1)
    _expect([e.id for e in got] == [event_id], f"expected the event; got {got}")
    held = second.consume(group, [topic])
    _expect(held == [], f"an event held by another consumer must not be handed out before it times out: {held}")
    again = _drain(second, group, [topic], 1, wait=harness.visibility + 5)
    _expect(
        [e.id for e in again] == [event_id],
        f"an unacked event must come back after the visibility timeout ({harness.visibility} s); got {again}",
    )
    second.ack(group, [event_id])


def check_redelivered_after_restart(harness: BusHarness) -> None:
    first = harness.new_bus()
    topic, group = _names()
    event_id = first.publish(topic, {"work": 1})
    _expect([e.id for e in _drain(first, group, [topic], 1)] == [event_id], "expected the event")
    first.close()
    restarted = harness.reopen(first)
    again = _drain(restarted, group, [topic], 1, wait=harness.visibility + 5)
    _expect([e.id for e in again] == [event_id], f"an unacked event must come back after a restart; got {again}")
    restarted.ack(group, [event_id])
    _expect(restarted.consume(group, [topic]) == [], "the acked event came back")


def check_no_duplicates_after_ack(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    ids = [bus.publish(topic, {"n": n}) for n in range(5)]
    bus.ack(group, [e.id for e in _drain(bus, group, [topic], 5)])
    _TIME.sleep(harness.visibility + 0.3)
    later = harness.reopen(bus).consume(group, [topic], block=0.2)
    _expect(later == [], f"acked events came back after the visibility timeout: {later} (published {ids})")


def check_no_loss_under_concurrent_publishers(harness: BusHarness) -> None:
    base = harness.new_bus()
    topic, group = _names()
    publishers, each = 4, 25
    buses = [harness.reopen(base) for _ in range(publishers)]
    published: list[list[str]] = [[] for _ in range(publishers)]
    errors: list[BaseException] = []
    start = threading.Barrier(publishers)

    def publish(index: int) -> None:
        try:
            start.wait()
            for n in range(each):
                published[index].append(buses[index].publish(topic, {"publisher": index, "n": n}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(index,)) for index in range(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _expect(not errors, f"concurrent publishing failed: {errors!r}")
    expected = {event_id for ids in published for event_id in ids}
    got = _drain(base, group, [topic], len(expected))
    base.ack(group, [e.id for e in got])
    missing = expected - {e.id for e in got}
    _expect(not missing, f"{len(missing)} of {len(expected)} events published concurrently were never delivered")
    _expect(len(got) == len(expected), f"expected {len(expected)} deliveries, got {len(got)}")
    for index in range(publishers):
        mine = [int(str(e.payload["n"])) for e in got if e.payload["publisher"] == index]
        _expect(mine == sorted(mine), f"publisher {index}'s events came out of its order: {mine}")


def check_order_per_topic(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    ids = [bus.publish(topic, {"n": n}) for n in range(20)]
    seen: list[str] = []
    while len(seen) < len(ids):
        batch = bus.consume(group, [topic], max=7, block=2.0)
        _expect(bool(batch), f"consume stopped after {len(seen)} of {len(ids)} events")
        seen.extend(e.id for e in batch)
        bus.ack(group, [e.id for e in batch])
    _expect(seen == ids, "one publisher's events on one topic must be delivered in publish order")


def check_republished_id_is_deduplicated(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    event_id = bus.publish(topic, {"version": 1})
    _expect(bus.publish(topic, {"version": 2}, id=event_id) == event_id, "publish must return the given id")
    given = uuid.uuid4().hex
    _expect(bus.publish(topic, {"mine": True}, id=given) == given, "publish must keep a caller's id")
    got = _drain(bus, group, [topic], 2)
    got += bus.consume(group, [topic], block=0.3)  # held ones are not handed out again: a duplicate would be
    _expect(
        [e.id for e in got] == [event_id, given], f"a re-published id must be stored once; got {[e.id for e in got]}"
    )
    _expect(got[0].payload == {"version": 1}, f"the first publish of an id wins; got {got[0].payload}")
    bus.ack(group, [event_id, given])


def check_consume_blocks_until_an_event(harness: BusHarness) -> None:
    bus = harness.new_bus()
    publisher = harness.reopen(bus)
    topic, group = _names()
    bus.consume(group, [topic])  # the group exists before the wait, as a long-running consumer's would
    started = _TIME.monotonic()
    _expect(bus.consume(group, [topic]) == [], "an empty topic returned events")
    _expect(_TIME.monotonic() - started < 1.5, "consume with block=0 must return at once on an empty topic")
    timer = threading.Timer(0.3, lambda: publisher.publish(topic, {"late": True}))
    started = _TIME.monotonic()
    timer.start()
    try:
        got = bus.consume(group, [topic], block=8.0)
    finally:
        timer.join()
    waited = _TIME.monotonic() - started
    _expect(len(got) == 1 and got[0].payload == {"late": True}, f"a blocking consume should get the event: {got}")
    _expect(waited < 4.0, f"a blocking consume should return soon after the event arrives; it took {waited:.1f} s")
    bus.ack(group, [got[0].id])


def check_ack_of_unknown_ids_is_ignored(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    bus.ack(group, [])
    bus.ack(group, ["no-such-event"])
    event_id = bus.publish(topic, {})
    bus.ack(group, [event_id])  # acked before it was consumed: nothing to ack, so it is still delivered
    got = _drain(bus, group, [topic], 1)
    _expect([e.id for e in got] == [event_id], f"an event acked before delivery must still be delivered: {got}")
    bus.ack(group, [event_id])


def check_bad_input_refused(harness: BusHarness) -> None:
    bus = harness.new_bus()
    topic, group = _names()
    bad_publishes: list[tuple[Any, Any, dict[str, Any]]] = [
        ("", {}, {}),
        ("has space", {}, {}),
        ("a.b", {}, {}),
        ("wild*", {}, {}),
        ("x" * 65, {}, {}),
        (None, {}, {}),
        (topic, [1, 2], {}),
        (topic, {"x": math.nan}, {}),
        (topic, {"x": {1, 2}}, {}),
        (topic, "text", {}),
        (topic, {}, {"id": ""}),
        (topic, {}, {"id": "has space"}),
        (topic, {}, {"app": ""}),
    ]
    for bad_topic, payload, options in bad_publishes:
        with _raises(ConfigError, f"publish({bad_topic!r}, {payload!r}, **{options!r})") as raised:
            bus.publish(bad_topic, payload, **options)
        _expect(len(str(raised.value)) > 30, f"the message should say what was expected: {raised.value}")
    bad_consumes: list[tuple[Any, Any, dict[str, Any]]] = [
        ("", [topic], {}),
        ("a.b", [topic], {}),
        (group, [], {}),
        (group, ["a b"], {}),
        (group, [topic], {"max": 0}),
        (group, [topic], {"max": 1.5}),
        (group, [topic], {"block": -1}),
        (group, [topic], {"block": math.inf}),
    ]
    for bad_group, topics, options in bad_consumes:
        with _raises(ConfigError, f"consume({bad_group!r}, {topics!r}, **{options!r})"):
            bus.consume(bad_group, topics, **options)
    with _raises(ConfigError, "ack with one string instead of a list"):
        bus.ack(group, "some-id")
    _expect(bus.consume(group, [topic]) == [], "a refused publish must store nothing")


BUS_CHECKS: tuple[Callable[[BusHarness], None], ...] = (
    check_round_trip,
    check_payload_json_round_trip,
    check_groups_are_independent,
    check_topics_are_separate,
    check_redelivered_after_visibility_timeout,
    check_redelivered_after_restart,
    check_no_duplicates_after_ack,
    check_no_loss_under_concurrent_publishers,
    check_order_per_topic,
    check_republished_id_is_deduplicated,
    check_consume_blocks_until_an_event,
    check_ack_of_unknown_ids_is_ignored,
    check_bad_input_refused,
)
"""Every check, in a stable order; parametrize over it to get one test per check."""


def check_bus(harness: BusHarness, checks: Sequence[Callable[[BusHarness], None]] = BUS_CHECKS) -> None:
    """Run ``checks`` (all of them by default); the first failure propagates, noting which check it was."""
    for check in checks:
        try:
            check(harness)
        except Exception as exc:
            exc.add_note(f"in event bus check {check.__name__}")
            raise
