"""Observations as time series: metrics on one long-lived run per app (``kind="monitor"``, name ``monitor``).

Each observation is one step; every value is a metric point at that step whose timestamp is the observation
time (not the time it was written), so a backtest under a simulated clock writes the same series as the live
loop, and the dashboard reads ``history(key, start, end)`` by observation time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ctml.meta import MetaStore, Metric, MetricPoint

__all__ = ["RUN_KIND", "RUN_NAME", "MonitorSeries"]

RUN_KIND = "monitor"
RUN_NAME = "monitor"
_STEP_KEY = "monitor.rows"  # written at every observation, so its last step is the last observation's


class MonitorSeries:
    """The monitor run of ``app``: found (the oldest running one) or started on the first write."""

    def __init__(self, meta: MetaStore, app: str, *, actor: str = "ctml-monitor") -> None:
        self.meta = meta
        self.app = app
        self.actor = actor
        self._run_id: str | None = None
        self._next_step: int | None = None

    def run_id(self, *, create: bool = False) -> str | None:
        if self._run_id is None:
            found = self.meta.runs.search(
                f"kind = '{RUN_KIND}' and name = '{RUN_NAME}' and status = 'running'",
                app=self.app,
                order_by="created asc",
                limit=1,
            )
            if found:
                self._run_id = found[0].id
            elif create:
                self._run_id = self.meta.runs.create(
                    RUN_NAME, app=self.app, kind=RUN_KIND, actor=self.actor, tags={"ctml.monitor": self.app}
                )
        return self._run_id

    def next_step(self) -> int:
        """The step the next observation gets: one past the last stored one (0 for the first)."""
        if self._next_step is None:
            points = self.history(_STEP_KEY)
            self._next_step = max((p.step for p in points), default=-1) + 1
        return self._next_step

    def write(self, at: datetime, step: int, values: Mapping[str, float]) -> None:
        """Store one observation's values at ``step``, stamped with the observation time, in one transaction."""
        run_id = self.run_id(create=True)
        assert run_id is not None
        at_ms = int(at.timestamp() * 1000)
        self.meta.runs.log(run_id, metrics=[Metric(k, float(v), step, at_ms) for k, v in values.items()])
        self._next_step = step + 1

    def history(self, key: str, start: datetime | None = None, end: datetime | None = None) -> list[MetricPoint]:
        """Points of ``key`` observed in ``[start, end)``, in step order."""
        run_id = self.run_id()
        if run_id is None:
            return []
        points = self.meta.runs.metric_history(run_id, key)
        return [p for p in points if (start is None or p.at >= start) and (end is None or p.at < end)]
