"""ADWIN (Bifet and Gavaldà, 2007): an adaptive window cut where its two parts' means differ significantly.

The window is compressed into exponential histograms: row ``i`` holds up to ``max_buckets`` buckets of
``2**i`` values each (their total and variance). Every ``clock`` updates, each cut between buckets is
checked with the Hoeffding-style bound of ADWIN2; on a cut the oldest bucket is dropped and the check runs
again. The arithmetic follows River's implementation step for step, so it fires at the same indices as
``river.drift.ADWIN`` with the same parameters (checked in tests); like River's, the next update after a
detection starts from an empty window.

>>> import numpy as np
>>> rng = np.random.default_rng(12345)
>>> stream = np.concatenate((rng.integers(0, 2, 1000), rng.integers(4, 8, 1000)))
>>> adwin = ADWIN()
>>> [i for i, x in enumerate(stream) if adwin.update(float(x)).drift_detected]
[1023]
"""

from __future__ import annotations

import math

from ctml.errors import ConfigError

__all__ = ["ADWIN"]


class _Row:
    """Buckets of one size, oldest first: parallel lists of totals and variances."""

    __slots__ = ("totals", "variances")

    def __init__(self) -> None:
        self.totals: list[float] = []
        self.variances: list[float] = []

    def push(self, total: float, variance: float) -> None:
        self.totals.append(total)
        self.variances.append(variance)

    def drop(self, count: int) -> None:
        del self.totals[:count]
        del self.variances[:count]


class ADWIN:
    """Adaptive windowing on a univariate stream; ``delta`` is the confidence of a cut."""

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not 0.0 < delta < 1.0:
            raise ConfigError(f"The 'delta' parameter of ADWIN must be a float in (0, 1). Got {delta!r} instead.")
        if clock < 1 or max_buckets < 1:
            raise ConfigError(
                f"The 'clock' and 'max_buckets' parameters of ADWIN must be >= 1. Got {clock!r} and {max_buckets!r}."
            )
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self.drift_detected = False
        self._reset()

    def _reset(self) -> None:
        self.drift_detected = False
        self.width_ = 0.0
        self.total_ = 0.0
        self.variance_ = 0.0
        self._tick = 0
        self._rows: list[_Row] = [_Row()]

    @property
    def estimation(self) -> float:
        """Mean of the current window."""
        return self.total_ / self.width_ if self.width_ else 0.0

    def update(self, x: float) -> ADWIN:
        if self.drift_detected:
            self._reset()
        self._insert(float(x))
        self.drift_detected = self._detect()
        return self

    def _insert(self, value: float) -> None:
        self._rows[0].push(value, 0.0)
        self.width_ += 1.0
        increment = 0.0
        if self.width_ > 1.0:
            gap = value - self.total_ / (self.width_ - 1.0)
            increment = (self.width_ - 1.0) * gap * gap / self.width_
        self.variance_ += increment
        self.total_ += value
        self._compress()

    def _compress(self) -> None:
        index = 0
        while len(self._rows[index].totals) == self.max_buckets + 1:
            row = self._rows[index]
            size = float(1 << index)
            first, second = row.totals[0], row.totals[1]
            mean_gap = first / size - second / size
            variance = row.variances[0] + row.variances[1] + size * 0.5 * mean_gap * mean_gap
            if index + 1 == len(self._rows):
                self._rows.append(_Row())
            self._rows[index + 1].push(first + second, variance)
            row.drop(2)
            if len(self._rows[index + 1].totals) <= self.max_buckets:
                break
            index += 1

    def _drop_oldest(self) -> None:
        last = len(self._rows) - 1
        row = self._rows[last]
        size = float(1 << last)
        total, variance = row.totals[0], row.variances[0]
        self.width_ -= size
        self.total_ -= total
        mean_gap = total / size - self.total_ / self.width_
        self.variance_ -= variance + size * self.width_ * mean_gap * mean_gap / (size + self.width_)
        row.drop(1)
        if not row.totals:
            self._rows.pop()

    def _detect(self) -> bool:
        self._tick += 1
        if self._tick % self.clock != 0 or self.width_ <= self.grace_period:
            return False
        detected = False
        cut = True
        while cut:
            cut = False
            n0, n1, u0, u1 = 0.0, self.width_, 0.0, self.total_
            for index in range(len(self._rows) - 1, -1, -1):
                row = self._rows[index]
                size = float(1 << index)
                last = len(row.totals) - 1
                for k, total in enumerate(row.totals):
                    n0 += size
                    n1 -= size
                    u0 += total
                    u1 -= total
                    if index == 0 and k == last:
                        break
                    if (
                        n1 >= self.min_window_length
                        and n0 >= self.min_window_length
                        and self._cuts(n0, n1, u0 / n0 - u1 / n1)
                    ):
                        cut = detected = True
                        if self.width_ > 0:
                            self._drop_oldest()
                        break
                if cut:
                    break
        return detected

    def _cuts(self, n0: float, n1: float, mean_gap: float) -> bool:
        confidence = math.log(2.0 * math.log(self.width_) / self.delta)
        harmonic = 1.0 / (n0 - self.min_window_length + 1.0) + 1.0 / (n1 - self.min_window_length + 1.0)
        # the running variance is a sum of many small corrections: rounding can leave it a hair below zero
        variance = max(0.0, self.variance_ / self.width_)
        epsilon = math.sqrt(2.0 * harmonic * variance * confidence) + 2.0 / 3.0 * confidence * harmonic
        return abs(mean_gap) > epsilon
