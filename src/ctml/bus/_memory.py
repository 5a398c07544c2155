"""``MemoryBus``: the in-process bus, for one process, tests and backtests.

Several :class:`MemoryBus` objects can share one :class:`MemoryLog` — two "processes" in one test, or a
consumer that is closed and opened again (a restart). Leases run on the injected clock's monotonic time, so a
backtest under :class:`~ctml.clock.SimulatedClock` times out deliveries in simulated time; ``block`` waits in
real time because it waits for another thread.

>>> bus = MemoryBus()
>>> event_id = bus.publish("retrain", {"reason": "manual"}, app="churn")
>>> [event.payload for event in bus.consume("controller", ["retrain"])]
[{'reason': 'manual'}]
>>> bus.ack("controller", [event_id]); bus.consume("controller", ["retrain"])
[]
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ctml.bus._base import Event, check_consume, check_group, check_ids, new_event
from ctml.clock import Clock, WallClock
from ctml.errors import ConfigError
from ctml.types import JSONObject

__all__ = ["MemoryBus", "MemoryLog"]

# ``block`` waits for another thread, in real time, whatever clock the leases run on.
_REAL_TIME = WallClock()


@dataclass
class _Group:
    acked: set[int] = field(default_factory=set)  # positions above a topic's floor
    leases: dict[int, tuple[str, float]] = field(default_factory=dict)  # position -> (holder, deadline)
    floors: dict[str, int] = field(default_factory=dict)  # topic -> index below which all is acked


class MemoryLog:
    """The events and the groups' progress; what survives a :class:`MemoryBus` being closed and reopened."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.positions: dict[str, int] = {}
        self.by_topic: dict[str, list[int]] = {}
        self.groups: dict[str, _Group] = {}
        self.changed = threading.Condition()


class MemoryBus:
    """An in-process :class:`~ctml.bus.Bus`; ``log`` shares events with other buses in the process."""

    def __init__(self, log: MemoryLog | None = None, *, clock: Clock | None = None, visibility: float = 30.0) -> None:
        if not visibility > 0:
            raise ConfigError(f"The 'visibility' parameter of MemoryBus must be seconds > 0. Got {visibility!r}.")
        self.log = log if log is not None else MemoryLog()
        self._clock = clock or WallClock()
        self._visibility = float(visibility)
        self._holder = uuid.uuid4().hex
        self._closed = False

    @property
    def url(self) -> str:
        return "memory://"

    def __repr__(self) -> str:
        return f"MemoryBus({len(self.log.events)} events)"

    def publish(self, topic: str, payload: JSONObject, *, app: str | None = None, id: str | None = None) -> str:
        self._check_open()
        event = new_event(self._clock, topic, payload, app, id)
        with self.log.changed:
            if event.id not in self.log.positions:
                position = len(self.log.events)
                self.log.positions[event.id] = position
                self.log.events.append(event)
                self.log.by_topic.setdefault(event.topic, []).append(position)
                self.log.changed.notify_all()
        return event.id

    def consume(self, group: str, topics: str | Sequence[str], *, max: int = 100, block: float = 0.0) -> list[Event]:
        self._check_open()
        group, names = check_consume(group, topics, max, block)
        deadline = _REAL_TIME.monotonic() + block
        with self.log.changed:
            state = self.log.groups.setdefault(group, _Group())
            while True:
                batch = self._take(state, names, max)
                remaining = deadline - _REAL_TIME.monotonic()
                if batch or remaining <= 0:
                    return batch
                # Wakes on a publish or a close; the cap re-checks leases that time out meanwhile.
                self.log.changed.wait(min(remaining, 0.1))

    def _take(self, state: _Group, topics: list[str], limit: int) -> list[Event]:
        now = self._clock.monotonic()
        found: list[int] = []
        for topic in topics:
            positions = self.log.by_topic.get(topic, [])
            taken = 0
            for index in range(state.floors.get(topic, 0), len(positions)):
                position = positions[index]
                lease = state.leases.get(position)
                if position in state.acked or (lease is not None and lease[1] > now):
                    continue
                found.append(position)
                taken += 1
                if taken == limit:
                    break
        found = sorted(found)[:limit]
        for position in found:
            state.leases[position] = (self._holder, now + self._visibility)
        return [self.log.events[position] for position in found]

    def ack(self, group: str, ids: Iterable[str]) -> None:
        self._check_open()
        check_group(group)
        checked = check_ids(ids)
        with self.log.changed:
            state = self.log.groups.setdefault(group, _Group())
            touched = set()
            for event_id in checked:
                position = self.log.positions.get(event_id)
                if position is not None and position in state.leases:  # acks what was delivered, like the others
                    state.acked.add(position)
                    state.leases.pop(position, None)
                    touched.add(self.log.events[position].topic)
            # Floors move past acked positions, so ``acked`` stays as small as the unacked window.
            for topic in touched:
                positions, floor = self.log.by_topic[topic], state.floors.get(topic, 0)
                while floor < len(positions) and positions[floor] in state.acked:
                    state.acked.discard(positions[floor])
                    floor += 1
                state.floors[topic] = floor

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self.log.changed:
            for state in self.log.groups.values():
                for position, (holder, _) in list(state.leases.items()):
                    if holder == self._holder:
                        del state.leases[position]
            self.log.changed.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("This MemoryBus is closed; open a new one (it can share the same MemoryLog).")
