"""Windows over a dataset's history: all of it, the last N rows, the last T of time, or since a version.

A window is a value; :meth:`ctml.data.Datasets.window` resolves it to a derived dataset version whose parents
(lineage) are the ingested versions it drew rows from.

>>> Window.parse("last:5000")
Window(kind='rows', rows=5000, span=None, since=None)
>>> Window.parse("time:7d").span
datetime.timedelta(days=7)
>>> Window.parse("since:rides@3").since
'rides@3'
>>> Window.parse("all").describe()
'all history'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from ctml.errors import ConfigError

__all__ = ["Window", "parse_span"]

WindowKind = Literal["all", "rows", "time", "since"]
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_USAGE = "Expected 'all', 'last:N' (rows), 'time:7d' (s, m, h, d, w) or 'since:DATASET@VERSION'."


@dataclass(frozen=True)
class Window:
    kind: WindowKind
    rows: int | None = None
    span: timedelta | None = None
    since: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "rows" and (self.rows is None or self.rows < 1):
            raise ConfigError(f"A rows window needs a positive number of rows. Got {self.rows!r}.")
        if self.kind == "time" and (self.span is None or self.span <= timedelta(0)):
            raise ConfigError(f"A time window needs a positive span. Got {self.span!r}.")
        if self.kind == "since" and not self.since:
            raise ConfigError("A since window needs a version reference such as 'rides@3'.")

    @classmethod
    def all(cls) -> Window:
        return cls("all")

    @classmethod
    def last_rows(cls, rows: int) -> Window:
        return cls("rows", rows=rows)

    @classmethod
    def last_time(cls, span: timedelta) -> Window:
        return cls("time", span=span)

    @classmethod
    def since_version(cls, ref: str) -> Window:
        return cls("since", since=ref)

    @classmethod
    def parse(cls, text: str) -> Window:
        """``all``, ``last:N`` or ``rows:N``, ``time:T`` or ``last:T`` (``7d``, ``12h``), ``since:REF``."""
        head, _, tail = text.strip().partition(":")
        head = head.lower()
        if head == "all" and not tail:
            return cls.all()
        if head in ("last", "rows") and tail.isdigit():
            return cls.last_rows(int(tail))
        if head in ("last", "time") and tail:
            return cls.last_time(parse_span(tail))
        if head == "since" and tail:
            return cls.since_version(tail)
        raise ConfigError(f"Unknown window {text!r}. {_USAGE}")

    def describe(self) -> str:
        if self.kind == "rows":
            return f"last {self.rows} rows"
        if self.kind == "time":
            return f"last {self.span}"
        if self.kind == "since":
            return f"since {self.since}"
        return "all history"

    def key(self) -> str:
        """A stable text for the window, recorded as the derived version's source."""
        if self.kind == "rows":
            return f"rows:{self.rows}"
        if self.kind == "time":
            assert self.span is not None
            return f"time:{int(self.span.total_seconds())}s"
        if self.kind == "since":
            return f"since:{self.since}"
        return "all"


def parse_span(text: str) -> timedelta:
    """``"90m"`` -> 90 minutes; units s, m/min, h, d, w."""
    match = _SPAN.match(text.strip().lower())
    if match is None:
        raise ConfigError(f"Unknown time span {text!r}. Expected a number and a unit, such as 30m, 12h, 7d or 2w.")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
