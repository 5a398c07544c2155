"""``kill -9`` of a controller process at named moments, and two controllers consuming one group at once:
nothing is lost and nothing is done twice, on SQLite and PostgreSQL, over the SQL outbox, Redis and NATS.

The controller runs in a process of its own (started from a fork server that has imported ctml already, so a
restart costs milliseconds, not seconds of imports) on the Elec2 app with a real bus, stops at a named point
(``tests/controller/_process.py``) and is killed there with SIGKILL; the next process starts where it was.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ctml.clock import SimulatedClock
from ctml.controller import HANDLED_KIND, REQUEST_KIND, Action, Controller, Loop, default_group
from ctml.errors import NotFoundError
from ctml.rollout import Rollouts
from ctml.rollout._machine import COMPLETED
from ctml.workspace import Workspace

from ._process import run_controller
from .conftest import VISIBILITY, BusSpec, event_app, open_workspace, stacks, write_part

APP = "elec2"
_PRELOAD = [
    "controller._process",
    "controller.conftest",
    "ctml.controller",
    "ctml.bus",
    "ctml.flavors._sklearn",
    "skops.io",  # imports every scikit-learn module (and torch through it): seconds, paid once here
    "ctml.serve",
]


def _forkserver() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


class Runs:
    """Start the controller process, and kill it at a point or once ``done``."""

    def __init__(self, tmp_path: Path, meta_url: str, data: Path, bus: BusSpec) -> None:
        self.tmp_path = tmp_path
        self.meta_url = meta_url
        self.data = data
        self.bus = bus
        self.marks = tmp_path / "marks"
        self.marks.mkdir()
        self.context = _forkserver()

    def _start(self, point: str | None) -> Any:
        args = (str(self.tmp_path), self.meta_url, str(self.data), self.bus, default_group(APP), point,
                str(self.marks), 30.0)  # fmt: skip
        process = self.context.Process(target=run_controller, args=args, daemon=True)
        process.start()
        return process

    def _kill(self, process: Any) -> None:
        process.kill()
        process.join(10)
        assert process.exitcode == -signal.SIGKILL

    def kill_at(self, point: str, *, wait: float = 60.0) -> None:
        process = self._start(point)
        deadline = time.monotonic() + wait
        while not (self.marks / point).exists():
            assert process.is_alive(), f"the controller exited ({process.exitcode}) before reaching {point!r}"
            assert time.monotonic() < deadline, f"the controller did not reach {point!r} in {wait:.0f}s"
            time.sleep(0.05)
        self._kill(process)

    def kill_when(self, done: Callable[[], bool], *, wait: float = 60.0) -> None:
        """Run until ``done``, and at least until what the killed runs held is back (the visibility timeout)
        and taken, so the last run is not killed holding events it was handed."""
        process = self._start(None)
        settled = time.monotonic() + VISIBILITY * 2 + 0.5
        deadline = time.monotonic() + wait
        try:
            while not done() or time.monotonic() < settled:
                assert process.is_alive(), f"the controller exited ({process.exitcode})"
                assert time.monotonic() < deadline, f"the loop did not finish in {wait:.0f}s"
                time.sleep(0.1)
        finally:
            self._kill(process)


def rolled_out(ws: Workspace, version: int) -> bool:
    found = ws.meta.rollouts.get(APP)
    if found is None or found.state.get("candidate") != version or found.state.get("status") != COMPLETED:
        return False
    try:  # the roll-out's state is stored a moment before the alias moves
        return ws.meta.models.get_alias(APP, "champion").version == version
    except NotFoundError:
        return False


def check_nothing_twice(ws: Workspace, versions: int) -> None:
    """One dataset version per file, one model version per job and per retrain decision, one gate verdict per
    version, each roll-out transition once, each alias move once."""
    datasets = [v for v in ws.meta.datasets.list(APP, limit=1000) if (v.source or {}).get("kind") != "window"]
    assert len(datasets) == len({v.digest for v in datasets}) == versions
    registered = ws.meta.models.versions(APP)
    assert sorted(v.version for v in registered) == list(range(1, versions + 1))
    jobs = [v.meta["job"] for v in registered]
    retrain = [d for d in ws.meta.decisions.list(app=APP, kind="trigger", limit=1000) if d.outcome == "retrain"]
    assert sorted(jobs) == sorted(f"job-{d.id}" for d in retrain)  # one decision -> one job -> one version
    gates = ws.meta.decisions.list(app=APP, kind="gate", limit=1000)
    assert sorted(g.version for g in gates if g.version is not None) == list(range(1, versions + 1))
    moves = Counter((d.version, d.outcome) for d in ws.meta.decisions.list(app=APP, kind="rollout", limit=1000))
    assert all(n == 1 for n in moves.values()), moves
    champion = [(m.from_version, m.to_version) for m in ws.meta.models.alias_history(APP, "champion")]
    assert sorted(champion, key=lambda m: m[1] or 0) == [(None, 1), *[(v - 1, v) for v in range(2, versions + 1)]]


def check_all_acked(bus: BusSpec) -> None:
    """Whatever a killed process held came back and was acked: after the visibility timeout, nothing is left."""
    reader = bus.open()
    try:
        assert reader.consume(default_group(APP), ["retrain", "new_data"], block=VISIBILITY + 0.5) == []
    finally:
        reader.close()


@stacks(("sqlite", "sql"), ("sqlite", "redis"), ("postgres", "nats"))
def test_sigkill_at_each_step_loses_nothing_and_repeats_nothing(
    tmp_path: Path, elec2: pa.Table, stack: tuple[str, str], meta_url: str, bus: BusSpec
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, meta_url)  # the schema, which the SQL outbox needs before a bus opens on it
    runs = Runs(tmp_path, meta_url, data, bus)

    runs.kill_at("ingest")  # the first file's version is stored, its watermark not advanced
    assert len(ws.meta.datasets.list(APP)) == 1
    runs.kill_at("train")  # the same file again: the same version, no second one
    assert all(n == 0 for _, n in ws.meta.models.list(app=APP))  # killed while training: nothing registered
    runs.kill_at("registered")
    runs.kill_at("rollout_started")  # the first model is live, its verdict not yet stored with the state
    assert ws.meta.models.get_alias(APP, "champion").version == 1
    assert len(ws.meta.models.versions(APP)) == 1  # three runs of the one job registered it once

    write_part(data, elec2, 1)
    publisher = bus.open()
    publisher.publish("new_data", {"source": "part-01.csv"}, app=APP, id="batch-1")
    publisher.publish("retrain", {"actor": "alice", "reason": "the upstream fix"}, app=APP, id="ask-1")
    publisher.close()
    runs.kill_at("request_stored")  # stored, not acked: the bus hands it out again
    runs.kill_at("rollout_step")  # the challenger reached full traffic; the cycle did not end
    assert ws.meta.models.get_alias(APP, "champion").version == 2
    runs.kill_when(lambda: rolled_out(ws, 2))

    check_nothing_twice(ws, versions=2)
    requests = ws.meta.events.read(kind=REQUEST_KIND, app=APP)
    assert [e.id for e in requests] == ["retrain-request-ask-1"]
    assert [e.payload["request"] for e in ws.meta.events.read(kind=HANDLED_KIND, app=APP)] == [requests[0].id]
    check_all_acked(bus)
    ws.close()


@stacks(("sqlite", "redis"), ("postgres", "nats"), ("postgres", "sql"))
def test_two_controllers_reading_one_group_retrain_and_promote_once(
    tmp_path: Path, elec2: pa.Table, stack: tuple[str, str], meta_url: str, bus: BusSpec
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    spaces = [open_workspace(tmp_path, meta_url), open_workspace(tmp_path, meta_url)]  # an engine each
    loops = [
        Loop(Controller(ws, event_app(data), owner=name, lease_ttl=timedelta(seconds=30)), bus=bus.open())
        for ws, name in zip(spaces, "ab", strict=True)
    ]
    stop = threading.Event()
    seen: dict[str, list[Action]] = {"a": [], "b": []}
    failures: list[BaseException] = []

    def spin(loop: Loop) -> None:
        try:
            while not stop.is_set():
                seen[loop.controller.owner].extend(loop.cycle(block=0.2))
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=spin, args=(loop,)) for loop in loops]
    for thread in threads:
        thread.start()
    ws = spaces[0]
    try:
        _wait(lambda: rolled_out(ws, 1) or bool(failures))
        write_part(data, elec2, 1)
        publisher = bus.open()
        for _ in range(2):  # a publisher that retried
            publisher.publish("retrain", {"actor": "bob", "reason": "new data is in"}, app=APP, id="ask-1")
            publisher.publish("new_data", {}, app=APP, id="batch-1")
        if bus.kind != "sql":
            bus.publish_raw("retrain", "ask-1", APP, {"actor": "bob", "reason": "new data is in"})
        publisher.close()
        _wait(lambda: rolled_out(ws, 2) or bool(failures))
        time.sleep(VISIBILITY + 0.5)  # time for every copy to be delivered, and to be acted on if it would be
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    for loop in loops:
        loop.close()
        assert loop.bus is not None
        loop.bus.close()
    check_nothing_twice(ws, versions=2)
    acting = {owner for owner, actions in seen.items() if any(a.kind == "train" for a in actions)}
    assert len(acting) == 1  # the lease: one controller trained, the other only stored requests or waited
    events = [str(a) for actions in seen.values() for a in actions if a.kind == "event"]
    assert events.count("event=retrain") == 1
    assert [e.id for e in ws.meta.events.read(kind=REQUEST_KIND, app=APP)] == ["retrain-request-ask-1"]
    check_all_acked(bus)
    for space in spaces:
        space.close()


def _wait(done: Callable[[], bool], wait: float = 60.0) -> None:
    deadline = time.monotonic() + wait
    while not done():
        assert time.monotonic() < deadline, f"not done in {wait:.0f}s"
        time.sleep(0.1)


def _die_on_apply(stage: str) -> Callable[..., None]:
    """``Rollouts._apply`` (the alias move and the route table) for a state entering ``stage``: the process dies
    after the roll-out's own state was stored, before its effects."""
    original = Rollouts._apply

    def apply(self: Rollouts, app: str, plan: Any, state: Any, before: Any) -> None:
        if state.stage_name(plan) == stage:
            raise KeyboardInterrupt(f"killed between the roll-out's state ({stage}) and its alias move")
        original(self, app, plan, state, before)

    return apply


def test_a_kill_between_a_first_rollouts_state_and_its_alias_move_trains_nothing_twice(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    monkeypatch.setattr(Rollouts, "_apply", _die_on_apply("full"))
    with pytest.raises(KeyboardInterrupt):
        Controller(ws, event_app(data), owner="a").reconcile_once()
    monkeypatch.undo()
    for _ in range(3):
        clock.advance(60)
        Controller(ws, event_app(data), owner="a").reconcile_once()
    assert len(ws.meta.models.versions(APP)) == 1
    assert ws.meta.models.get_alias(APP, "champion").version == 1
    ws.close()


def test_a_kill_between_a_step_to_full_and_its_alias_move_still_promotes(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    controller = Controller(ws, event_app(data), owner="a")
    controller.reconcile_once()
    write_part(data, elec2, 1)
    controller.request_retrain("alice", "new data")
    clock.advance(60)
    assert "rollout=start" in [str(a) for a in controller.reconcile_once()]
    monkeypatch.setattr(Rollouts, "_apply", _die_on_apply("full"))
    clock.advance(60)
    with pytest.raises(KeyboardInterrupt):
        controller.reconcile_once()
    monkeypatch.undo()
    for _ in range(3):
        clock.advance(60)
        Controller(ws, event_app(data), owner="a").reconcile_once()
    assert rolled_out(ws, 2)  # the roll-out says completed, and the alias must say so too
    ws.close()
