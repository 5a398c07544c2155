"""DDM (Gama et al., 2004): the error rate of a classifier against its best level so far.

Feed it 1 for a mistake and 0 for a correct prediction. It fires at the same indices as
``river.drift.binary.DDM`` with the same parameters (checked in tests).

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> errors = np.concatenate((rng.random(1000) < 0.1, rng.random(1000) < 0.4))
>>> detector = DDM()
>>> [i for i, x in enumerate(errors) if detector.update(bool(x)).drift_detected]
[545, 1182]
"""

from __future__ import annotations

import math

from ctml.errors import ConfigError

__all__ = ["DDM"]


class DDM:
    """Drift Detection Method. ``warning_detected`` rises first, ``drift_detected`` at the drift level."""

    def __init__(self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0) -> None:
        if warning_threshold > drift_threshold:
            raise ConfigError(
                "The 'warning_threshold' parameter of DDM must not exceed 'drift_threshold'. "
                f"Got {warning_threshold!r} > {drift_threshold!r}."
            )
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        self._reset()

    def _reset(self) -> None:
        self.drift_detected = False
        self.warning_detected = False
        self.n_ = 0.0
        self.error_rate_ = 0.0
        self._p_min = math.nan
        self._s_min = math.nan
        self._ps_min = math.inf

    def update(self, x: bool | float) -> DDM:
        if self.drift_detected:
            self._reset()
        self.n_ += 1.0
        self.error_rate_ += (1.0 / self.n_) * (float(x) - self.error_rate_)
        p, n = self.error_rate_, self.n_
        s = math.sqrt(p * (1 - p) / n)
        if n > self.warm_start:
            if p + s <= self._ps_min:
                self._p_min, self._s_min = p, s
                self._ps_min = self._p_min + self._s_min
            self.warning_detected = p + s > self._p_min + self.warning_threshold * self._s_min
            if p + s > self._p_min + self.drift_threshold * self._s_min:
                self.drift_detected = True
                self.warning_detected = False
        return self
