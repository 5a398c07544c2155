"""The prediction log: a bounded in-memory queue and one writer thread doing batched durable writes.

The request path only appends to a queue (``offer``); it never waits for the database. When the queue holds
``capacity`` rows, a new request's rows are **dropped and counted** (``dropped``, exported on ``/metrics``):
the request is still answered, because a prediction log must never slow down or fail the predictions it
records. The writer takes up to ``batch_rows`` rows at a time and writes them in one transaction.

What a crash can lose: rows still queued plus the batch being written, so at most ``capacity + batch_rows``
rows (SIGKILL, power loss of the process). ``close()`` (called on a clean shutdown) writes everything queued
before it returns, so a clean shutdown loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from ctml.clock import Clock, WallClock
from ctml.meta import MetaStore

__all__ = ["LogChunk", "PredictionLog"]

_log = logging.getLogger("ctml.serve")


@dataclass(frozen=True, slots=True)
class LogChunk:
    """One request's predictions, as the log stores them: the request body as it came (one row object, or
    ``{"rows": [...]}``) and the answer as it was sent (``predictions`` and ``probabilities`` arrays). Nothing
    is encoded again for the log, which is what keeps it off the serving path's budget.

    Its predictions' ids are ``<batch>-0`` .. ``<batch>-<rows-1>``; ``shadow_of`` names the champion request
    a shadow's answer shadows, row for row.
    """

    app: str
    model: str
    version: int
    route: str
    batch: str
    rows: int
    inputs: str
    output: str
    latency_ms: float
    at_ms: int

    def __len__(self) -> int:
        return self.rows

    def record(self) -> dict[str, Any]:
        return {
            "id": self.batch,
            "app": self.app,
            "model": self.model,
            "version": self.version,
            "route": self.route,
            "rows": self.rows,
            "inputs": self.inputs,
            "output": self.output,
            "latency_ms": self.latency_ms,
            "at_ms": self.at_ms,
        }


class PredictionLog:
    """Queue predictions without blocking; write them to ``meta.predictions`` in batches on a thread."""

    def __init__(
        self,
        meta: MetaStore,
        *,
        capacity: int = 10_000,
        batch_rows: int = 1_000,
        clock: Clock | None = None,
        retry_s: float = 1.0,
        linger_s: float = 0.05,
    ) -> None:
        if capacity < 1 or batch_rows < 1:
            raise ValueError("A prediction log needs capacity >= 1 and batch_rows >= 1.")
        self.meta = meta
        self.capacity = capacity
        self.batch_rows = batch_rows
        self.clock = clock or WallClock()
        self.retry_s = retry_s
        self.linger_s = linger_s
        self._queue: deque[LogChunk] = deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._dropped = 0
        self._written = 0
        self._failures = 0
        self._writing = 0
        self._closing = False
        self._flushing = 0
        self._thread: threading.Thread | None = None

    @property
    def bound(self) -> int:
        """The most rows a crash can lose: a full queue and the batch being written."""
        return self.capacity + self.batch_rows

    @property
    def depth(self) -> int:
        return self._queued

    @property
    def pending(self) -> int:
        """Rows offered and not yet written: queued, or taken by the writer and still in its transaction."""
        with self._cond:
            return self._queued + self._writing

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def written(self) -> int:
        return self._written

    @property
    def failures(self) -> int:
        return self._failures

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ctml-prediction-log", daemon=True)
            self._thread.start()

    def offer(self, chunk: LogChunk) -> bool:
        """Queue ``chunk``; if it does not fit, drop it, count it and return False. Never blocks."""
        n = len(chunk)
        with self._cond:
            if self._queued + n > self.capacity or self._closing:
                self._dropped += n
                return False
            self._queue.append(chunk)
            self._queued += n
            if self._queued >= self.batch_rows:
                self._cond.notify()
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (True) or ``timeout`` seconds pass (False)."""
        deadline = self.clock.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            try:
                self._cond.notify_all()
                while self._queued or self._writing:
                    left = deadline - self.clock.monotonic()
                    if left <= 0 or self._thread is None:
                        return False
                    self._cond.wait(min(left, 0.05))
            finally:
                self._flushing -= 1
        return True

    def close(self, timeout: float = 30.0) -> bool:
        """Stop taking rows, write everything queued, stop the writer. True when nothing was left unwritten."""
        done = self.flush(timeout) if self._thread is not None else not self._queued
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        return done and not self._queued

    def _take(self) -> list[LogChunk] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait(0.5)
            if self._queued < self.batch_rows and not self._closing and not self._flushing:
                # linger for more rows: one transaction per batch, not per request, keeps the writer's
                # share of the GIL small under load (offer() wakes it as soon as a full batch is queued)
                self._cond.wait(self.linger_s)
            taken: list[LogChunk] = []
            rows = 0
            while self._queue and (not taken or rows + len(self._queue[0]) <= self.batch_rows):
                chunk = self._queue.popleft()
                taken.append(chunk)
                rows += len(chunk)
            self._queued -= rows
            self._writing = rows
            return taken

    def _loop(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            records = [chunk.record() for chunk in taken]
            written = 0
            while True:
                try:
                    self.meta.predictions.append(records)
                    written = sum(len(chunk) for chunk in taken)
                    break
                except Exception:  # the store is down or locked: keep the batch and retry; the queue fills and drops
                    self._failures += 1
                    _log.exception("Writing %d logged requests failed; retrying.", len(records))
                    with self._cond:
                        if self._closing:
                            break
                        self._cond.wait(self.retry_s)
            with self._cond:
                self._written += written
                self._writing = 0
                self._cond.notify_all()
