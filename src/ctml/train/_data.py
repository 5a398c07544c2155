"""What a training learns from: a feature matrix, its labels, the feature names and, optionally, each row's time.

Rows are in stream (time) order, oldest first, so "the last N rows" and "the last hour" are well defined.
Times are numbers (seconds, any epoch) or ``datetime64`` values; they must never decrease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ctml.errors import ConfigError

__all__ = ["TrainingData"]


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Training rows in time order: ``X`` (rows x features), ``y``, ``feature_names`` and an optional ``time``.

    >>> data = TrainingData(np.zeros((4, 2)), np.array([0, 1, 0, 1]), ["a", "b"], time=np.array([0, 60, 120, 180]))
    >>> data.rows, data.window(rows=3), data.window(seconds=60)
    (4, 1, 3)
    >>> data.slice(1, 3).time_range()
    (60.0, 120.0)
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: Sequence[str]
    time: np.ndarray | None = None
    _seconds: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        y = np.asarray(self.y)
        names = tuple(str(n) for n in self.feature_names)
        if X.ndim != 2:
            raise ConfigError(f"TrainingData's X must be a 2-D array (rows, features). Got shape {X.shape}.")
        if y.ndim != 1 or len(y) != len(X):
            raise ConfigError(f"TrainingData's y must be 1-D with one value per row of X ({len(X)}). Got {y.shape}.")
        if X.shape[1] != len(names):
            raise ConfigError(f"X has {X.shape[1]} columns but {len(names)} feature names were given: {list(names)}.")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "feature_names", names)
        if self.time is not None:
            seconds = _as_seconds(self.time)
            if seconds.shape != (len(X),):
                raise ConfigError(f"TrainingData's time must hold one value per row ({len(X)}). Got {seconds.shape}.")
            if len(seconds) > 1 and bool(np.any(np.diff(seconds) < 0)):
                at = int(np.argmax(np.diff(seconds) < 0)) + 1
                raise ConfigError(
                    f"TrainingData's time must never decrease (rows are in stream order); row {at} is earlier "
                    "than the row before it. Sort the rows by time first."
                )
            object.__setattr__(self, "_seconds", seconds)

    def __repr__(self) -> str:
        timed = "" if self.time is None else ", timed"
        return f"TrainingData(rows={self.rows}, features={len(self.feature_names)}{timed})"

    @property
    def rows(self) -> int:
        return len(self.X)

    @property
    def seconds(self) -> np.ndarray | None:
        """Each row's time in seconds (``datetime64`` converted from the Unix epoch), or ``None``."""
        return self._seconds

    def slice(self, start: int, stop: int) -> TrainingData:
        """Rows ``start:stop``, times included."""
        time = None if self.time is None else np.asarray(self.time)[start:stop]
        return TrainingData(self.X[start:stop], self.y[start:stop], self.feature_names, time)

    def window(self, *, rows: int | None = None, seconds: float | None = None) -> int:
        """The first row of the newest window: the last ``rows`` rows, or the rows newer than ``seconds``
        before the last row's time (``time > last - seconds``)."""
        if rows is not None:
            return max(0, self.rows - rows)
        if seconds is None:
            return 0
        if self._seconds is None:
            raise ConfigError(
                "A window in seconds needs each row's time: build the TrainingData with time=... "
                "(numbers in seconds, or datetime64), or give the window in rows."
            )
        if self.rows == 0:
            return 0
        return int(np.searchsorted(self._seconds, self._seconds[-1] - seconds, side="right"))

    def time_range(self) -> tuple[float, float] | None:
        """The first and last row's time in seconds, or ``None`` without times or rows."""
        if self._seconds is None or self.rows == 0:
            return None
        return float(self._seconds[0]), float(self._seconds[-1])


def _as_seconds(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[ns]").astype(np.int64).astype(np.float64) / 1e9
    if array.dtype.kind in "iuf":
        out = array.astype(np.float64)
        if not bool(np.all(np.isfinite(out))):
            raise ConfigError("TrainingData's time holds NaN or infinite values; give every row a time.")
        return out
    raise ConfigError(
        f"TrainingData's time must be numbers (seconds) or datetime64 values. Got an array of {array.dtype}."
    )
