"""Page-Hinkley: a cumulative sum of deviations from the running mean, for abrupt changes in a stream.

It fires at the same indices as ``river.drift.PageHinkley`` with the same parameters (checked in tests).

>>> import numpy as np
>>> rng = np.random.default_rng(7)
>>> stream = np.concatenate((rng.normal(0.0, 0.1, 500), rng.normal(1.0, 0.1, 500)))
>>> detector = PageHinkley(threshold=10.0)
>>> [i for i, x in enumerate(stream) if detector.update(x).drift_detected]
[510]
"""

from __future__ import annotations

import math
from typing import Literal

from ctml.errors import ConfigError

__all__ = ["PageHinkley"]


class PageHinkley:
    """Page-Hinkley test on a univariate stream.

    ``delta`` is the magnitude of change tolerated, ``threshold`` the cumulative deviation that fires,
    ``alpha`` the forgetting factor of the sums, ``mode`` which direction counts ("up", "down" or "both").
    After a detection the next update starts afresh.
    """

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: Literal["up", "down", "both"] = "both",
    ) -> None:
        if mode not in ("up", "down", "both"):
            raise ConfigError(f"The 'mode' parameter of PageHinkley must be 'up', 'down' or 'both'. Got {mode!r}.")
        if threshold <= 0:
            raise ConfigError(f"The 'threshold' parameter of PageHinkley must be > 0. Got {threshold!r} instead.")
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self.drift_detected = False
        self.n_ = 0.0
        self.mean_ = 0.0
        self._sum_up = 0.0
        self._sum_down = 0.0
        self._min_up = math.inf
        self._max_down = -1.0

    def update(self, x: float) -> PageHinkley:
        if self.drift_detected:
            self._reset()
        self.n_ += 1.0
        self.mean_ += (1.0 / self.n_) * (x - self.mean_)
        deviation = x - self.mean_
        self._sum_up = self.alpha * self._sum_up + deviation - self.delta
        self._sum_down = self.alpha * self._sum_down + deviation + self.delta
        self._min_up = min(self._min_up, self._sum_up)
        self._max_down = max(self._max_down, self._sum_down)
        if self.n_ >= self.min_instances:
            up = self._sum_up - self._min_up > self.threshold
            down = self._max_down - self._sum_down > self.threshold
            self.drift_detected = {"up": up, "down": down, "both": up or down}[self.mode]
        return self
