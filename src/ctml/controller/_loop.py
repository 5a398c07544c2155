"""The controller's loop: a cycle every ``interval``, or at once when an event arrives on the bus.

Outside systems talk to the controller through two topics (``docs/bus.md``):

- ``retrain`` (payload ``reason``, and ``actor`` or ``requested_by``): stored as the durable request
  ``retrain-request-<event id>`` (:meth:`Controller.request_retrain`), then acked. The events table's unique id
  is the deduplication record: an event delivered twice (a redelivery, a re-publish, a second controller of the
  group handed it after a visibility timeout) is one request, and a request is marked handled in the same
  transaction as the trigger decision it fed, so it fires one retrain. A crash after storing and before the ack
  only redelivers the event, which changes nothing.
- ``new_data`` (payload optional): the controller runs a cycle now instead of at the end of its interval. It is
  acked after that cycle, so a crash mid-cycle redelivers it; the files themselves are found by the source's
  watermark either way, so the event saves waiting, never data.

Each app's controllers read one consumer group (by default ``controller-<app>``): the bus hands an event to one
of them, and events for other apps are acked and left to their own group. A controller that does not hold the
app's lease still stores ``retrain`` requests (any controller may; the one acting reads them), but leaves
``new_data`` to the controller that acts, so that the wake-up reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ctml.bus import Bus, Event
from ctml.clock import Clock, WallClock
from ctml.controller._controller import Action, Controller
from ctml.errors import ConfigError

__all__ = ["NEW_DATA", "RETRAIN", "Loop", "default_group"]

RETRAIN = "retrain"
NEW_DATA = "new_data"
_MAX_BLOCK = 3600.0  # the longest a bus's consume waits in one call
_NOT_GROUP = re.compile(r"[^A-Za-z0-9_-]")
_GROUP = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def default_group(app: str) -> str:
    """The consumer group of an app's controllers: ``controller-<app>``, with characters a group cannot hold
    (the ``.`` an app name may have) as ``_``.

    >>> default_group("churn.eu")
    'controller-churn_eu'
    """
    return "controller-" + _NOT_GROUP.sub("_", app)[:53]


@dataclass(frozen=True)
class _Batch:
    """What one wait brought: the actions it led to, and the events to ack once the cycle is done."""

    actions: list[Action]
    after_cycle: list[str]


class Loop:
    """Cycles of ``controller``: one every ``interval``, and at once when ``bus`` brings an event for its app.

    ``group`` is the consumer group (default :func:`default_group`); ``clock`` times the waits (the wall clock;
    a bus waits in real time). Without a bus it is the plain interval loop of ``ctml controller``.
    """

    def __init__(
        self,
        controller: Controller,
        *,
        bus: Bus | None = None,
        group: str | None = None,
        interval: timedelta = timedelta(seconds=60),
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(interval, timedelta) or interval.total_seconds() <= 0:
            raise ConfigError(f"The 'interval' parameter of Loop must be a timedelta > 0. Got {interval!r} instead.")
        self.controller = controller
        self.bus = bus
        self.group = group if group is not None else default_group(controller.app.name)
        self.interval = interval
        self.clock: Clock = clock or WallClock()
        if not isinstance(self.group, str) or not _GROUP.match(self.group):
            raise ConfigError(
                f"A consumer group must be 1-64 letters, digits, '_' or '-', like 'controller'. Got {self.group!r}."
            )

    def cycle(self, block: float = 0.0) -> list[Action]:
        """Wait up to ``block`` seconds for an event (just wait, without a bus), take what came, then run one
        :meth:`Controller.reconcile_once`; the events' actions come first."""
        batch = self._take(self._wait(block))
        actions = [*batch.actions, *self.controller.reconcile_once()]
        if self.bus is not None and batch.after_cycle:
            self.bus.ack(self.group, batch.after_cycle)
        return actions

    def run(self, *, cycles: int | None = None, report: Callable[[datetime, list[Action]], None] | None = None) -> int:
        """Run cycles until ``cycles`` are done (forever by default); ``report`` is called after each with the
        time it began and what it did. Returns the number of cycles run."""
        if cycles is not None and (isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1):
            raise ConfigError(f"The 'cycles' parameter of Loop.run must be an int >= 1 or None. Got {cycles!r}.")
        done = 0
        block = 0.0
        while cycles is None or done < cycles:
            began = self.controller.clock.now()
            actions = self.cycle(block)
            done += 1
            if report is not None:
                report(began, actions)
            block = self.interval.total_seconds()
        return done

    def close(self) -> None:
        """Give the app's lease up, so another controller acts at once (the bus is the caller's to close)."""
        self.controller.release()

    # -- events ------------------------------------------------------------------------------------------------

    def leading(self) -> bool:
        """Whether this controller acts for the app now, or could (the lease is free or has expired)."""
        held = self.controller.workspace.meta.leases.get(self.controller.lease)
        return held is None or held.owner == self.controller.owner or held.expires_at <= self.controller.clock.now()

    def _wait(self, block: float) -> list[Event]:
        if self.bus is None:
            if block > 0:
                self.clock.sleep(block)
            return []
        topics: Sequence[str] = (RETRAIN, NEW_DATA) if self.leading() else (RETRAIN,)
        deadline = self.clock.monotonic() + block
        while True:
            remaining = max(0.0, deadline - self.clock.monotonic())
            events = self.bus.consume(self.group, topics, max=100, block=min(remaining, _MAX_BLOCK))
            if events or remaining <= _MAX_BLOCK:
                return events

    def _take(self, events: list[Event]) -> _Batch:
        """Store the retrain requests and ack them; keep the wake-ups to ack after the cycle."""
        if self.bus is None or not events:
            return _Batch([], [])
        app = self.controller.app.name
        actions: list[Action] = []
        now: list[str] = []
        later: list[str] = []
        for event in events:
            if event.app is not None and event.app != app:
                now.append(event.id)  # another app's event: its own controllers' group has it too
            elif event.topic == RETRAIN:
                now.append(event.id)
                actions.append(self._retrain(event))
            else:
                later.append(event.id)
                actions.append(Action("event", NEW_DATA, f"new data announced (event {event.id}): reconciling now"))
        if now:
            self.bus.ack(self.group, now)  # after the requests are stored: a crash before this only redelivers
        return _Batch(actions, later)

    def _retrain(self, event: Event) -> Action:
        if event.app is None:
            return Action(
                "event",
                "ignored",
                f"retrain event {event.id} names no app; publish it with the app to retrain "
                "(`ctml events publish retrain --app NAME`)",
            )
        payload = event.payload
        actor = str(payload.get("actor") or payload.get("requested_by") or "bus")
        reason = str(payload.get("reason") or f"retrain event {event.id}")
        request, stored = self.controller._store_request(actor, reason, event.id)
        if not stored:
            return Action("event", "duplicate", f"retrain event {event.id} was stored before; not requested again")
        return Action("event", RETRAIN, f"retrain requested by {actor}: {reason} ({request.id})")
