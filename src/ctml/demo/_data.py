"""The bike-sharing stream shipped with the package: two years of hourly rentals in Washington D.C.

Row order is time order (UCI's ``hour.csv``, 2011-01-01 to 2012-12-31; a few hours have no row). Each row's
time is its date (``dteday``) plus its hour (``hr``), so the replay's simulated clock is the real calendar.
``casual`` and ``registered`` add up to the target ``cnt`` and are dropped (they would leak the label);
``instant`` (a row counter) and ``dteday`` (a string) are not features. The file is checked against its
sha256 every time it is read.

>>> stream = load_stream()
>>> stream.rows, stream.target, stream.task, len(stream.features)
(17379, 'cnt', 'regression', 12)
>>> str(stream.time_of(0)), str(stream.time_of(stream.rows - 1))
('2011-01-01 00:00:00+00:00', '2012-12-31 23:00:00+00:00')
"""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ctml.backtest import Stream
from ctml.errors import ConfigError
from ctml.hashing import sha256_bytes

__all__ = ["FEATURES", "SHA256", "SOURCE_PATH", "STREAM_ROWS", "TARGET", "TIME", "load_stream"]

SOURCE_PATH = "ctml/demo/data/bike_sharing_hourly.csv.gz"
"""Where the data lives inside the installed package."""

SHA256 = "11e08374c448229649b93e64c7442558b93d516a008804bd70bdb8c82333c434"
"""sha256 of the uncompressed CSV (the bytes UCI's ``hour.csv`` holds, with UCI's column names)."""

STREAM_ROWS = 17_379
TARGET = "cnt"
TIME = "time"
FEATURES = ("season", "yr", "mnth", "hr", "holiday", "weekday", "workingday", "weathersit", "temp", "atemp", "hum",
            "windspeed")  # fmt: skip
"""What the models see: calendar, weather and the normalised temperature, humidity and wind."""

_RESOURCE = ("data", "bike_sharing_hourly.csv.gz")
_COLUMNS = ("instant", "dteday", *FEATURES, "casual", "registered", TARGET)
_TYPES = {"instant": pa.int64(), "dteday": pa.date32(), "temp": pa.float64(), "atemp": pa.float64(),
          "hum": pa.float64(), "windspeed": pa.float64(), TARGET: pa.float64()}  # fmt: skip


def load_stream(path: str | Path | None = None, *, limit: int | None = None) -> Stream:
    """Read the packaged file (or ``path``, a gzip CSV of the same bytes), verify it, keep the first ``limit``
    rows, and return it as the stream the replay feeds (features, ``cnt`` as float, a UTC ``time``)."""
    where = str(path) if path is not None else SOURCE_PATH
    try:
        if path is None:
            compressed = resources.files("ctml.demo").joinpath(*_RESOURCE).read_bytes()
        else:
            compressed = Path(path).read_bytes()
        raw = gzip.decompress(compressed)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(
            f"The demo data {where} cannot be read as gzip ({exc}). Reinstall ctml to restore it."
        ) from exc
    digest = sha256_bytes(raw)
    if digest != SHA256:
        raise ConfigError(
            f"The demo data {where} has sha256 {digest} once decompressed, expected {SHA256}: the file is damaged "
            "or was replaced. Reinstall ctml to restore it."
        )
    table = pacsv.read_csv(pa.py_buffer(raw), convert_options=pacsv.ConvertOptions(column_types=_TYPES))
    if table.num_rows != STREAM_ROWS or tuple(table.column_names) != _COLUMNS:
        raise ConfigError(f"The demo data has {table.num_rows} rows and columns {table.column_names}; expected "
                          f"{STREAM_ROWS} rows and {list(_COLUMNS)}.")  # fmt: skip
    if limit is not None:
        if limit < 100:
            raise ConfigError(f"The demo needs at least 100 rows of its stream. Got limit={limit!r}.")
        table = table.slice(0, limit)
    day = table.column("dteday").cast(pa.timestamp("s")).cast(pa.int64()).to_numpy()
    seconds = (day + table.column("hr").to_numpy() * 3600).astype(np.int64)
    if np.any(np.diff(seconds) <= 0):
        raise ConfigError("The demo data's dteday/hr columns are not strictly increasing; the stream must be in order.")
    times = pa.array(seconds * 1_000_000, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    columns: dict[str, pa.Array | pa.ChunkedArray] = {name: table.column(name) for name in FEATURES}
    columns[TARGET] = table.column(TARGET)
    columns[TIME] = times
    kept = pa.table(columns).replace_schema_metadata({b"ctml.time": b"epoch"})
    X = np.column_stack([pc.cast(table.column(n), pa.float64()).to_numpy() for n in FEATURES])
    y = table.column(TARGET).to_numpy()
    return Stream(kept, X, y, FEATURES, TARGET, "regression", seconds.astype(np.float64))
