"""Time, injected. No other module of ctml reads the wall clock.

The live loop uses :class:`WallClock`; ``ctml backtest`` replays history with a :class:`SimulatedClock`
through the very same code.

>>> from datetime import datetime, timezone
>>> clock = SimulatedClock(datetime(2024, 1, 1, tzinfo=timezone.utc))
>>> clock.advance(90)
>>> clock.now().isoformat()
'2024-01-01T00:01:30+00:00'
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SimulatedClock", "WallClock", "utc"]


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """Where ctml gets the time from."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for measuring durations."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a simulated clock just moves forward)."""
        ...


class WallClock:
    """The real time of the machine."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class SimulatedClock:
    """A clock that only moves when told to: for backtests and tests."""

    def __init__(self, start: datetime) -> None:
        self._now = utc(start)

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._now.timestamp()

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"A simulated clock cannot go backwards; got advance({seconds}).")
        self._now += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        moment = utc(moment)
        if moment < self._now:
            raise ValueError(f"A simulated clock cannot go backwards from {self._now} to {moment}.")
        self._now = moment
