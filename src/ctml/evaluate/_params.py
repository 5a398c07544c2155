"""Declarative parameter constraints, with scikit-learn's messages.

>>> Interval(float, 0, 0.5, closed="neither").describe()
'a float in (0, 0.5)'
>>> validate("Gate", {"alpha": Interval(float, 0, 0.5, closed="neither")}, {"alpha": 2})
Traceback (most recent call last):
ctml.errors.ConfigError: The 'alpha' parameter of Gate must be a float in (0, 0.5). Got 2 instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ctml.errors import ConfigError

__all__ = ["Constraint", "Interval", "MetricBounds", "OneOf", "Optional", "validate"]


class Constraint(Protocol):
    def accepts(self, value: Any) -> bool: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` between ``low`` and ``high`` (None: unbounded); bools are not numbers here."""

    kind: type[int] | type[float]
    low: float | None
    high: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return low_ok and high_ok

    def describe(self) -> str:
        noun = "an int" if self.kind is int else "a float"
        left_closed = self.closed in ("both", "left")
        right_closed = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{noun} in {'[' if left_closed else '('}{self.low}, {self.high}{']' if right_closed else ')'}"
        if self.low is not None:
            return f"{noun} {'>=' if left_closed else '>'} {self.low}"
        if self.high is not None:
            return f"{noun} {'<=' if right_closed else '<'} {self.high}"
        return noun


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values (strings or bools)."""

    options: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return any(value is o or (type(value) is type(o) and value == o) for o in self.options)

    def describe(self) -> str:
        if self.options == (True, False):
            return "a bool"
        return "one of " + ", ".join(repr(o) for o in self.options)


@dataclass(frozen=True)
class Optional:
    """None, or what ``inner`` accepts."""

    inner: Constraint

    def accepts(self, value: Any) -> bool:
        return value is None or self.inner.accepts(value)

    def describe(self) -> str:
        return f"None or {self.inner.describe()}"


@dataclass(frozen=True)
class MetricBounds:
    """A mapping from metric names (among ``names``) to finite numbers."""

    names: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, Mapping):
            return False
        number = Interval(float, None, None)
        return all(k in self.names and number.accepts(v) for k, v in value.items())

    def describe(self) -> str:
        return f"a mapping from metric names ({', '.join(self.names)}) to numbers"


def validate(owner: str, constraints: Mapping[str, Constraint], values: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for the first value its constraint does not accept."""
    for name, constraint in constraints.items():
        value = values[name]
        if not constraint.accepts(value):
            raise ConfigError(
                f"The {name!r} parameter of {owner} must be {constraint.describe()}. Got {_shown(value)} instead."
            )


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return repr(dict(value))
    if isinstance(value, Iterable) and not isinstance(value, str):
        return repr(list(value))
    return repr(value)
