"""Training strategies: which rows a retraining learns from, and whether it starts from the champion.

Each strategy is a small frozen record, validated when built; :func:`ctml.train.train` runs it. A strategy only
*plans*: it names the rows (a ``start:stop`` range of the history) and the mode, one of

- ``fit``: a fresh model from the estimator,
- ``warm_start``: continue from the champion (``fit_model(..., init=champion)``: boosters add rounds, torch
  trains more epochs from the champion's weights, scikit-learn estimators with ``warm_start`` start from its
  coefficients, River keeps learning),
- ``partial_fit``: update the champion with rows it has not seen (River, scikit-learn's ``partial_fit``).

Without a champion, :class:`WarmStart`, :class:`Incremental` and :class:`FineTune` make the *first* model with a
full fit on the whole history (mode ``fit``), so one strategy serves from the first training on.

>>> SlidingWindow(rows=500)
SlidingWindow(rows=500, seconds=None)
>>> SlidingWindow(rows=0)
Traceback (most recent call last):
ctml.errors.ConfigError: The 'rows' parameter of SlidingWindow must be an int >= 1. Got 0 instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ctml.errors import ConfigError
from ctml.train._data import TrainingData
from ctml.train._params import positive_int, positive_number
from ctml.types import JSONObject

__all__ = [
    "STRATEGIES",
    "FineTune",
    "FullHistory",
    "Incremental",
    "Mode",
    "Plan",
    "SlidingWindow",
    "Strategy",
    "WarmStart",
]

Mode = Literal["fit", "warm_start", "partial_fit"]


@dataclass(frozen=True)
class Plan:
    """Rows ``start:stop`` of the history, learned in ``mode``."""

    start: int
    stop: int
    mode: Mode


def _window(owner: str, rows: int | None, seconds: float | None) -> None:
    if (rows is None) == (seconds is None):
        got = "both" if rows is not None else "neither"
        raise ConfigError(f"{owner} needs exactly one of 'rows' and 'seconds'. Got {got}.")
    if rows is not None:
        positive_int(owner, "rows", rows)
    if seconds is not None:
        positive_number(owner, "seconds", seconds)


@dataclass(frozen=True)
class FullHistory:
    """A fresh model on every row of the history.

    >>> FullHistory().plan(TrainingData([[0.0], [1.0]], [0, 1], ["x"]), has_champion=True, seen=None)
    Plan(start=0, stop=2, mode='fit')
    """

    name: ClassVar[str] = "full_history"
    needs: ClassVar[str | None] = None

    def params(self) -> JSONObject:
        return {}

    def plan(self, history: TrainingData, *, has_champion: bool, seen: int | None) -> Plan:
        return Plan(0, history.rows, "fit")


@dataclass(frozen=True)
class SlidingWindow:
    """A fresh model on the newest rows only: the last ``rows`` rows, or the last ``seconds`` of time.

    >>> data = TrainingData([[0.0], [1.0], [2.0]], [0, 1, 0], ["x"], time=[0, 3600, 7200])
    >>> SlidingWindow(seconds=3600).plan(data, has_champion=False, seen=None)
    Plan(start=2, stop=3, mode='fit')
    """

    rows: int | None = None
    seconds: float | None = None
    name: ClassVar[str] = "sliding_window"
    needs: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        _window("SlidingWindow", self.rows, self.seconds)

    def params(self) -> JSONObject:
        return {"rows": self.rows, "seconds": self.seconds}

    def plan(self, history: TrainingData, *, has_champion: bool, seen: int | None) -> Plan:
        return Plan(history.window(rows=self.rows, seconds=self.seconds), history.rows, "fit")


@dataclass(frozen=True)
class WarmStart:
    """Continue from the champion on the whole history (boosters add rounds, torch trains more epochs, ...).

    Needs a flavor with the ``warm_start`` capability; any other is a :class:`~ctml.errors.ConfigError`, never a
    silent full fit. Without a champion it makes the first model with a full fit.
    """

    name: ClassVar[str] = "warm_start"
    needs: ClassVar[str | None] = "warm_start"

    def params(self) -> JSONObject:
        return {}

    def plan(self, history: TrainingData, *, has_champion: bool, seen: int | None) -> Plan:
        return Plan(0, history.rows, "warm_start" if has_champion else "fit")


@dataclass(frozen=True)
class Incremental:
    """Update the champion with only the rows it has not learned: ``history`` rows from ``seen`` on.

    ``seen`` (an argument of :func:`~ctml.train.train`) is how many leading rows of the history the champion
    already learned, usually the ``stop`` of its own :class:`~ctml.train.TrainingResult`. Needs a flavor with
    the ``incremental`` capability (River; scikit-learn estimators with ``partial_fit``).

    >>> Incremental().plan(TrainingData([[0.0], [1.0], [2.0]], [0, 1, 0], ["x"]), has_champion=True, seen=2)
    Plan(start=2, stop=3, mode='partial_fit')
    """

    name: ClassVar[str] = "incremental"
    needs: ClassVar[str | None] = "incremental"

    def params(self) -> JSONObject:
        return {}

    def plan(self, history: TrainingData, *, has_champion: bool, seen: int | None) -> Plan:
        if not has_champion:
            return Plan(0, history.rows, "fit")
        if seen is None:
            raise ConfigError(
                "Incremental updates the champion with the rows it has not learned, so train() needs seen=N: how "
                "many leading rows of the history the champion learned (its TrainingResult.stop)."
            )
        if isinstance(seen, bool) or not isinstance(seen, int) or not 0 <= seen <= history.rows:
            raise ConfigError(f"The 'seen' parameter of train must be an int in [0, {history.rows}]. Got {seen!r}.")
        return Plan(seen, history.rows, "partial_fit")


@dataclass(frozen=True)
class FineTune:
    """Start from the champion and train on the newest rows only (the last ``rows`` rows or ``seconds``).

    Torch trains its ``epochs`` from the champion's weights, boosters add their ``n_estimators`` rounds to the
    champion's booster, both on the recent rows. Needs the ``warm_start`` capability, like :class:`WarmStart`.

    >>> FineTune(rows=2).plan(TrainingData([[0.0], [1.0], [2.0]], [0, 1, 0], ["x"]), has_champion=True, seen=None)
    Plan(start=1, stop=3, mode='warm_start')
    """

    rows: int | None = None
    seconds: float | None = None
    name: ClassVar[str] = "fine_tune"
    needs: ClassVar[str | None] = "warm_start"

    def __post_init__(self) -> None:
        _window("FineTune", self.rows, self.seconds)

    def params(self) -> JSONObject:
        return {"rows": self.rows, "seconds": self.seconds}

    def plan(self, history: TrainingData, *, has_champion: bool, seen: int | None) -> Plan:
        if not has_champion:
            return Plan(0, history.rows, "fit")
        return Plan(history.window(rows=self.rows, seconds=self.seconds), history.rows, "warm_start")


Strategy = FullHistory | SlidingWindow | WarmStart | Incremental | FineTune
STRATEGIES: tuple[type[Strategy], ...] = (FullHistory, SlidingWindow, WarmStart, Incremental, FineTune)
"""Every strategy, in the order the docs list them."""
