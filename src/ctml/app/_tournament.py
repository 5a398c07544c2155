"""``Tournament``: the app's standing challengers and what a challenger must show on live rows to be promoted.

Every candidate answers every request (the champion for real, the challengers in shadow), so each labelled
row is one on which all of them answered *before* its label was known. A challenger is promoted when the gate
(its paired test, minimum effect and slice checks) prefers it to the champion on the same live labelled rows
of the last ``window_rows``; with ``direct`` it takes full traffic at once, since it already served every request
in shadow, otherwise it goes through the app's roll-out plan. Either way the previous champion stays in the
tournament, so a promotion that stops paying is undone by the same evidence.

>>> Tournament().window_rows, Tournament().min_rows, Tournament().direct
(2000, 200, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ctml.errors import ConfigError
from ctml.evaluate import Gate

__all__ = ["Tournament"]


@dataclass(frozen=True)
class Tournament:
    """``challengers``: estimators that stand beside the champion (online ones learn from every label in the
    server; the app's own ``model`` is the batch candidate, refit when the policy says retrain);
    ``window_rows``: the recent labelled rows each candidate is scored on; ``min_rows``: fewer paired rows decide
    nothing; ``gate``: what a challenger must prove on them (``None``: the app's gate without its floors);
    ``direct``: promote without a canary (the roll-out plan otherwise); ``batch_challengers``: how many batch
    refits stay in the tournament (the newest)."""

    challengers: tuple[Any, ...] = ()
    window_rows: int = 2000
    min_rows: int = 200
    gate: Gate | None = None
    direct: bool = True
    batch_challengers: int = 1
    adaptive_window: bool = True
    """Refit the batch candidate on the rows since the change ADWIN last found in the champion's live errors
    (at least ``min_rows``, at most the training strategy's window), instead of the fixed window."""

    def __post_init__(self) -> None:
        challengers = tuple(self.challengers)
        for c in challengers:
            if not (hasattr(c, "fit") or hasattr(c, "learn_one")):
                raise ConfigError(f"Each tournament challenger must be an estimator. Got {c!r}.")
        object.__setattr__(self, "challengers", challengers)
        for name, value, low in (("window_rows", self.window_rows, 10), ("min_rows", self.min_rows, 1),
                                 ("batch_challengers", self.batch_challengers, 0)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"The {name!r} parameter of Tournament must be an int >= {low}. Got {value!r}.")
        if self.min_rows > self.window_rows:
            raise ConfigError(
                f"The 'min_rows' parameter of Tournament ({self.min_rows}) must be at most window_rows "
                f"({self.window_rows})."
            )
        if self.gate is not None and not isinstance(self.gate, Gate):
            raise ConfigError(f"The 'gate' parameter of Tournament must be a ctml.evaluate.Gate. Got {self.gate!r}.")
