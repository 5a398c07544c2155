"""The controller's bus events: "retrain" becomes one durable request however often it is delivered, and
"new_data" starts a cycle at once; on SQLite and PostgreSQL, over the SQL outbox, Redis Streams and NATS."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from ctml.bus import Bus, Event, MemoryBus
from ctml.clock import SimulatedClock
from ctml.controller import HANDLED_KIND, REQUEST_KIND, Action, Controller, Loop, default_group
from ctml.errors import ConfigError
from ctml.workspace import Workspace

from .conftest import VISIBILITY, BusSpec, bus_spec, event_app, make_app, open_workspace, stacks, write_part

DUPLICATE_STACKS = stacks(("sqlite", "sql"), ("sqlite", "nats"), ("postgres", "redis"), ("postgres", "nats"))


class _DiesBeforeAck:
    """A bus whose consumer dies before every ack: what it took comes back to the group."""

    def __init__(self, bus: Bus) -> None:
        self.inner = bus
        self.url = bus.url

    def publish(self, topic: str, payload: dict, *, app: str | None = None, id: str | None = None) -> str:  # type: ignore[type-arg]
        return self.inner.publish(topic, payload, app=app, id=id)

    def consume(self, group: str, topics: str | Sequence[str], *, max: int = 100, block: float = 0.0) -> list[Event]:
        return self.inner.consume(group, topics, max=max, block=block)

    def ack(self, group: str, ids: Iterable[str]) -> None:
        pass

    def close(self) -> None:
        self.inner.close()


def event_actions(actions: list[Action]) -> list[str]:
    return [str(a) for a in actions if a.kind == "event"]


def retrains(ws: Workspace) -> list[str]:
    return [d.id for d in ws.meta.decisions.list(app="elec2", kind="trigger") if d.outcome == "retrain"]


def cycle_until(loop: Loop, want: int, *, wait: float = 15.0) -> list[str]:
    """Cycles until ``want`` event actions came (each cycle waits up to a second for events)."""
    seen: list[str] = []
    deadline = time.monotonic() + wait
    while len(seen) < want and time.monotonic() < deadline:
        seen.extend(event_actions(loop.cycle(block=1.0)))
    return seen


@DUPLICATE_STACKS
def test_a_retrain_event_delivered_again_and_again_retrains_once(
    tmp_path: Path, elec2: pa.Table, stack: tuple[str, str], meta_url: str, bus: BusSpec
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, meta_url)
    controller = Controller(ws, event_app(data), owner="a")
    publisher = bus.open()
    assert "gate=promote" in [str(a) for a in Loop(controller, bus=publisher).cycle()]  # the first model
    assert len(retrains(ws)) == 1

    write_part(data, elec2, 1)
    payload = {"actor": "alice", "reason": "the upstream fix landed"}
    publisher.publish("retrain", payload, app="elec2", id="fix-1")
    publisher.publish("retrain", payload, app="elec2", id="fix-1")  # a retried publish: dropped where the bus can
    copies = 1
    if bus.kind != "sql":
        bus.publish_raw("retrain", "fix-1", "elec2", payload)  # a copy no bus can tell from the first
        copies = 2

    # A controller takes the copies, stores the request, retrains, and dies before it acks any of them.
    dying = _DiesBeforeAck(bus.open())
    loop = Loop(controller, bus=dying)
    seen = cycle_until(loop, copies)
    assert sorted(seen) == sorted(["event=retrain"] + ["event=duplicate"] * (copies - 1))
    assert len(retrains(ws)) == 2
    assert [v.version for v in ws.meta.models.versions("elec2")] == [2, 1]
    dying.close()  # nothing was acked: every copy goes back to the group

    restarted = Loop(controller, bus=bus.open())
    again = cycle_until(restarted, copies)
    assert again == ["event=duplicate"] * copies  # redelivered: the stored request is not stored again
    assert len(retrains(ws)) == 2  # and it did not fire again
    assert len(ws.meta.models.versions("elec2")) == 2
    requests = ws.meta.events.read(kind=REQUEST_KIND, app="elec2")
    assert [e.id for e in requests] == ["retrain-request-fix-1"]
    assert requests[0].payload == {"actor": "alice", "reason": "the upstream fix landed"}
    marks = ws.meta.events.read(kind=HANDLED_KIND, app="elec2")
    assert [m.payload["request"] for m in marks] == ["retrain-request-fix-1"]
    # everything was acked this time: nothing comes back after the visibility timeout
    assert restarted.bus is not None
    assert restarted.bus.consume(restarted.group, ["retrain", "new_data"], block=VISIBILITY + 0.5) == []
    restarted.bus.close()
    publisher.close()
    ws.close()


def test_new_data_starts_a_cycle_at_once_and_is_acked_after_it(tmp_path: Path, elec2: pa.Table) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}")
    bus = MemoryBus(visibility=VISIBILITY)
    loop = Loop(Controller(ws, event_app(data), owner="a"), bus=bus, interval=timedelta(minutes=10))
    loop.cycle()
    write_part(data, elec2, 1)
    bus.publish("new_data", {"source": "part-01.csv"}, app="elec2", id="batch-1")
    began = time.monotonic()
    actions = loop.cycle(block=600)  # would wait ten minutes without the event
    assert time.monotonic() - began < 30
    assert [str(a) for a in actions][:2] == ["event=new_data", "ingest=new"]
    time.sleep(VISIBILITY + 0.2)
    assert bus.consume(loop.group, ["new_data"]) == []  # acked after the cycle, not redelivered
    ws.close()


def test_events_for_other_apps_and_retrain_without_an_app(tmp_path: Path, elec2: pa.Table) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}")
    bus = MemoryBus(visibility=VISIBILITY)
    controller = Controller(ws, event_app(data), owner="a")
    loop = Loop(controller, bus=bus)
    loop.cycle()
    bus.publish("retrain", {"reason": "for churn"}, app="churn", id="other-1")
    bus.publish("retrain", {"reason": "for whom?"}, id="nobody-1")
    actions = loop.cycle()
    ignored = [a for a in actions if a.kind == "event"]
    assert [str(a) for a in ignored] == ["event=ignored"]  # the other app's event is not even mentioned
    assert "names no app" in ignored[0].summary
    assert "--app" in ignored[0].summary
    assert controller.pending_requests() == []
    assert ws.meta.events.read(kind=REQUEST_KIND) == []
    time.sleep(VISIBILITY + 0.2)
    assert bus.consume(loop.group, ["retrain"]) == []  # both were acked
    ws.close()


def test_a_controller_without_the_lease_stores_requests_and_leaves_new_data(tmp_path: Path, elec2: pa.Table) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    one, two = open_workspace(tmp_path, url), open_workspace(tmp_path, url)
    bus = MemoryBus(visibility=60)
    leader = Loop(Controller(one, event_app(data), owner="a"), bus=bus)
    follower = Loop(Controller(two, event_app(data), owner="b"), bus=bus)
    leader.cycle()
    assert leader.leading()
    assert not follower.leading()
    bus.publish("new_data", {}, app="elec2", id="batch-1")
    bus.publish("retrain", {"actor": "bob", "reason": "please"}, app="elec2", id="ask-1")
    took = follower.cycle()
    assert [str(a) for a in took] == ["event=retrain", "lease=held"]
    assert [r.id for r in leader.controller.pending_requests()] == ["retrain-request-ask-1"]
    woke = leader.cycle()  # the wake-up was left for the controller that acts
    assert [str(a) for a in woke][:3] == ["event=new_data", "trigger=retrain", "train=registered"]
    one.close()
    two.close()


def test_loop_arguments_are_checked(tmp_path: Path, elec2: pa.Table) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}")
    controller = Controller(ws, event_app(data), owner="a")
    with pytest.raises(ConfigError, match="consumer group must be 1-64"):
        Loop(controller, bus=MemoryBus(), group="the controllers")
    with pytest.raises(ConfigError, match="'interval' parameter of Loop must be a timedelta > 0"):
        Loop(controller, interval=timedelta(0))
    with pytest.raises(ConfigError, match=r"'cycles' parameter of Loop\.run"):
        Loop(controller).run(cycles=0)
    assert default_group("elec2") == "controller-elec2"
    ws.close()


def test_more_than_five_hundred_handled_requests_do_not_fire_again(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock
) -> None:
    """The state keeps only the latest 500 handled request ids; the marks written with the decision keep the
    rest, so an old request does not come back as pending (it did, before the marks)."""
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    controller = Controller(ws, make_app(data), owner="a")
    controller.reconcile_once()
    for i in range(501):
        controller.request_retrain("cron", f"request {i}", request_id=f"r{i:03d}")
    clock.advance(60)
    assert "train=registered" in [str(a) for a in controller.reconcile_once()]
    assert len(controller.state()[0].handled) == 500
    assert controller.pending_requests() == []
    clock.advance(60)
    assert not any(a.kind == "train" for a in controller.reconcile_once())
    assert len(ws.meta.models.versions("elec2")) == 2
    ws.close()


def test_nats_consume_of_two_topics_without_waiting_never_fails(request: pytest.FixtureRequest) -> None:
    """A loop polls 'retrain' and 'new_data' together. nats-py raises the plain asyncio.TimeoutError (not its
    own) when a fetch's deadline runs out between its two requests; the bus took that for a broken server
    and raised BackendUnavailableError on about one empty poll in six."""
    spec = next(bus_spec(request, "nats", ""))
    bus = spec.open()
    try:
        for _ in range(30):
            assert bus.consume("controller-elec2", ["retrain", "new_data"]) == []
    finally:
        bus.close()
        spec.remove()
