"""A historical stream as the backtest replays it: rows in file order, features, target, task and row times.

Rows keep their order (time order); nothing is shuffled. Features are the numeric columns (or the app's
``features``); missing values become 0 for every policy alike, because the model server refuses non-finite
numbers. Rows get synthetic times, ``row_seconds`` apart, unless the app names a time column of timestamp type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ctml.data import read_table
from ctml.errors import ConfigError

__all__ = ["START", "Stream", "infer_task", "load_stream"]

START = datetime(2024, 1, 1, tzinfo=UTC)
"""When a stream without a time column starts, in simulated time."""

_MAX_CLASSES = 50


@dataclass(frozen=True)
class Stream:
    """``table`` holds the columns the controller ingests; ``X``/``y`` the same rows for the baselines."""

    table: pa.Table
    X: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    target: str
    task: str
    times: np.ndarray
    """Seconds since :data:`START` (or the epoch, with a time column) of each row."""

    @property
    def rows(self) -> int:
        return int(self.y.shape[0])

    def time_of(self, row: int) -> datetime:
        """The simulated time of ``row`` (rows past the end continue the last spacing)."""
        last = self.rows - 1
        seconds = float(self.times[min(row, last)])
        if row > last:
            step = float(self.times[-1] - self.times[-2]) if self.rows > 1 else 60.0
            seconds += (row - last) * max(step, 1.0)
        return _origin(self) + timedelta(seconds=seconds)

    def subset(self, rows: int) -> Stream:
        return Stream(self.table.slice(0, rows), self.X[:rows], self.y[:rows], self.features, self.target,
                      self.task, self.times[:rows])  # fmt: skip


def _origin(stream: Stream) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) if stream.table.schema.metadata == {b"ctml.time": b"epoch"} else START


def infer_task(column: pa.ChunkedArray) -> str:
    """``classification`` for text, booleans and integers with at most 50 values; ``regression`` otherwise.

    >>> infer_task(pa.chunked_array([["UP", "DOWN"]])), infer_task(pa.chunked_array([[0.5, 1.25, 3.0]]))
    ('classification', 'regression')
    """
    kind = column.type
    if pa.types.is_floating(kind):
        return "regression"
    if pa.types.is_integer(kind):
        return "classification" if len(pc.unique(column)) <= _MAX_CLASSES else "regression"
    return "classification"


def load_stream(
    path: str | Path,
    target: str,
    *,
    features: Sequence[str] | None = None,
    time: str | None = None,
    task: str | None = None,
    row_seconds: float = 60.0,
    every: int = 1,
    limit: int | None = None,
    drop: Sequence[str] = (),
) -> Stream:
    """Read ``path`` (CSV or Parquet, compressed or not); keep every ``every``-th row, then the first ``limit``;
    ``drop`` names columns that are not features."""
    table = read_table(Path(path))
    if target not in table.column_names:
        raise ConfigError(f"The target {target!r} is not a column of {path} (columns: {table.column_names}).")
    if every > 1:
        table = table.take(pa.array(np.arange(0, table.num_rows, every)))
    if limit is not None:
        table = table.slice(0, limit)
    table = table.filter(pc.is_valid(table.column(target)))
    if table.num_rows < 100:
        raise ConfigError(f"{path} has {table.num_rows} labelled rows; a backtest needs at least 100.")
    unknown = [c for c in drop if c not in table.column_names]
    if unknown or target in drop:
        raise ConfigError(f"--drop names {unknown or [target]}: not a feature column of {path}.")
    if features is None:
        names = [c for c in table.column_names
                 if c not in (target, time, *drop) and _numeric(table.column(c).type)]  # fmt: skip
    else:
        names = list(features)
        missing = [c for c in names if c not in table.column_names or not _numeric(table.column(c).type)]
        if missing:
            raise ConfigError(f"The features {missing} are not numeric columns of {path}.")
    if not names:
        raise ConfigError(f"{path} has no numeric feature columns besides {target!r}; encode categories upstream.")
    columns = {c: pc.fill_null(table.column(c).cast(pa.float64()), 0.0) for c in names}
    X = np.column_stack([columns[c].to_numpy() for c in names])
    X[~np.isfinite(X)] = 0.0
    kind = task or infer_task(table.column(target))
    if kind not in ("classification", "regression"):
        raise ConfigError(f"--task must be classification or regression. Got {kind!r}.")
    raw = table.column(target)
    if kind == "regression":
        if not _numeric(raw.type):
            raise ConfigError(f"The target {target!r} is {raw.type}; regression needs a numeric target.")
        y = raw.cast(pa.float64()).to_numpy()
    else:
        y = np.asarray(raw.to_pylist())
    kept: dict[str, pa.ChunkedArray] = {c: pa.chunked_array([pa.array(X[:, i])]) for i, c in enumerate(names)}
    kept[target] = raw
    metadata = None
    if time is not None and time in table.column_names and pa.types.is_timestamp(table.column(time).type):
        stamps = table.column(time).cast(pa.timestamp("us", tz="UTC")).to_numpy().astype("int64") / 1e6
        if np.any(np.diff(stamps) < 0):
            raise ConfigError(f"The time column {time!r} of {path} goes backwards; a stream must be in time order.")
        times = stamps
        kept[time] = table.column(time)
        metadata = {b"ctml.time": b"epoch"}
    else:
        times = np.arange(table.num_rows, dtype=np.float64) * row_seconds
    out = pa.table(kept)
    if metadata is not None:
        out = out.replace_schema_metadata(metadata)
    return Stream(out, X, y, tuple(names), target, kind, times)


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind))
