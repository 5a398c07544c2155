"""The Elec2 stream shipped with the package, cut into consecutive windows that become dataset versions.

Row order is time order: one row per 30 minutes of the New South Wales electricity market from 7 May 1996.
The file has no timestamp column, so each row's time is *nominal*, derived from its position, and the
derivation is checked against the ``day`` (weekday) and ``period`` (half-hour of the day) columns of every
row first. It is not exact: the source gives 7 May 1996 - 5 Dec 1998 (943 days) for 944 days of rows, and
the normalised ``date`` column repeats one day (rows 17,376-17,471, nominally 4-5 May 1997) while ``day``
runs on, so from May 1997 on a nominal date may be one day later than the market's.

>>> stream = load_stream()
>>> stream.table.num_rows, stream.target
(45312, 'class')
>>> [(w.start, w.end) for w in cut_windows(stream.table.num_rows, 20000)]
[(0, 20000), (20000, 40000), (40000, 45312)]
>>> row_time(0), row_time(47), row_time(48)
('1996-05-07T00:00', '1996-05-07T23:30', '1996-05-08T00:00')
"""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ctml.errors import ConfigError
from ctml.hashing import canonical_json, sha256_bytes
from ctml.types import JSON, JSONObject

__all__ = [
    "FEATURES",
    "SOURCE_PATH",
    "STREAM_ROWS",
    "Stream",
    "Window",
    "content_digest",
    "cut_windows",
    "load_stream",
    "row_time",
    "schema_of",
    "to_parquet",
]

SOURCE_PATH = "ctml/demo/data/elec2.csv.gz"
"""Where the data lives inside the installed package (recorded as each dataset version's source)."""

_RESOURCE = ("data", "elec2.csv.gz")
_SHA256 = "c10a416790ef8ab96089e5adfd2febb7c9cec72bd80dfecb2342f2283b86b88a"
STREAM_ROWS = 45_312
"""Rows in the packaged stream (checked when it is read)."""
_TARGET = "class"
_COLUMN_TYPES = {
    "date": pa.float64(),
    "day": pa.int64(),
    "period": pa.float64(),
    "nswprice": pa.float64(),
    "nswdemand": pa.float64(),
    "vicprice": pa.float64(),
    "vicdemand": pa.float64(),
    "transfer": pa.float64(),
    _TARGET: pa.string(),
}

FEATURES = ("day", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer")
"""What the models see. ``date`` is left out, as Gama et al. suggest: it is a normalised clock that a model
trained on the past can only extrapolate."""

_START = datetime(1996, 5, 7)  # market local time; the data has no time zone  # noqa: DTZ001
_STEP = timedelta(minutes=30)
_PER_DAY = 48


@dataclass(frozen=True)
class Stream:
    """The whole stream, in time order, with the digest of the file it was read from."""

    table: pa.Table
    target: str
    sha256: str


@dataclass(frozen=True)
class Window:
    """Rows ``[start, end)`` of the stream."""

    index: int
    start: int
    end: int

    @property
    def rows(self) -> int:
        return self.end - self.start


def load_stream() -> Stream:
    """Read the packaged Elec2 file, verify its digest and its calendar, and return it in time order."""
    resource = resources.files("ctml.demo").joinpath(*_RESOURCE)
    with resource.open("rb") as handle:
        raw = gzip.decompress(handle.read())
    digest = sha256_bytes(raw)
    if digest != _SHA256:
        raise ConfigError(
            f"The packaged demo data {SOURCE_PATH} has sha256 {digest}, expected {_SHA256}. "
            "Reinstall ctml to restore it."
        )
    table = pacsv.read_csv(
        pa.py_buffer(raw), convert_options=pacsv.ConvertOptions(column_types=_COLUMN_TYPES, strings_can_be_null=False)
    )
    if table.num_rows != STREAM_ROWS or table.column_names != list(_COLUMN_TYPES):
        raise ConfigError(
            f"The demo data has {table.num_rows} rows and columns {table.column_names}; "
            f"expected {STREAM_ROWS} rows and {list(_COLUMN_TYPES)}."
        )
    _check_calendar(table)
    return Stream(table=table, target=_TARGET, sha256=digest)


def _check_calendar(table: pa.Table) -> None:
    """Row ``i`` must be half-hour ``i % 48`` of day ``i // 48`` from 7 May 1996 (a Tuesday, ``day`` 2)."""
    position = np.arange(table.num_rows)
    period = table.column("period").to_numpy()
    weekday = table.column("day").to_numpy()
    expected_weekday = (_START.isoweekday() - 1 + position // _PER_DAY) % 7 + 1
    if not (
        np.allclose(period, (position % _PER_DAY) / (_PER_DAY - 1), atol=1e-5)
        and np.array_equal(weekday, expected_weekday)
    ):
        raise ConfigError("The demo data's day/period columns do not follow one row per 30 minutes from 1996-05-07.")


def row_time(row: int) -> str:
    """The nominal market time of a row, to the minute (see the module docstring for its one-day caveat)."""
    return (_START + row * _STEP).strftime("%Y-%m-%dT%H:%M")


def cut_windows(rows: int, window_rows: int, limit: int | None = None) -> list[Window]:
    """Consecutive windows of ``window_rows`` rows (the last may be shorter), at most ``limit`` of them."""
    if window_rows < 1:
        raise ConfigError(f"The 'window_rows' parameter must be a positive int. Got {window_rows} instead.")
    starts = range(0, rows, window_rows)
    found = [Window(i, s, min(rows, s + window_rows)) for i, s in enumerate(starts)]
    return found if limit is None else found[:limit]


def schema_of(table: pa.Table, target: str) -> JSONObject:
    """Column names and Arrow types, plus which column is the target and which are features."""
    return {
        "columns": _columns(table),
        "target": target,
        "features": list(FEATURES),
    }


def _columns(table: pa.Table) -> list[JSON]:
    return [{"name": f.name, "type": str(f.type)} for f in table.schema]


def content_digest(table: pa.Table) -> str:
    """sha256 of the window's values and schema, independent of how a file format lays them out.

    Two windows with the same rows get the same digest on any machine and any pyarrow version, which is what
    makes a re-ingested window the same dataset version.
    """
    digest = hashlib.sha256(canonical_json(_columns(table)).encode())
    for column in table.itercolumns():
        values = column.to_numpy(zero_copy_only=False)
        if values.dtype == object:
            digest.update("\x00".join(values.tolist()).encode())
        else:
            digest.update(np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes())
        digest.update(b"\xff")
    return digest.hexdigest()


def to_parquet(table: pa.Table) -> bytes:
    """The window as Parquet bytes (zstd), the form it is stored in."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()
