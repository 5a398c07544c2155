"""Sources: where new data comes from, and the watermark that says what was already taken.

A source lists its pending *chunks* given the marks stored so far; each chunk becomes one dataset version and
leaves one mark. :class:`FileSource` takes every file of a glob once (a file's mark is its path, size and mtime);
:class:`SqlSource` takes rows of a table whose cursor column is past the last mark; :class:`MemorySource` hands
over a table, data frame or array (pandas and polars are imported only when given).
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from ctml.data._formats import ReadOptions, detect_format, read_batches, with_types
from ctml.errors import ConfigError, MissingExtraError
from ctml.types import JSON, JSONObject

__all__ = ["Chunk", "FileSource", "MemorySource", "Source", "SqlSource", "to_table"]

Reader = Callable[[dict[str, pa.DataType]], Iterator[pa.RecordBatch]]


class Chunk:
    """One unit of new data: its batches (read on demand), what to record as its source, and its mark.

    ``token`` may change while the batches are read (a SQL cursor learns its last value); read it afterwards.
    """

    def __init__(self, key: str, token: JSON, description: JSONObject, read: Reader, size: int | None = None) -> None:
        self.key = key
        self.token = token
        self.description = description
        self.size = size
        self._read = read

    def batches(self, types: dict[str, pa.DataType] | None = None) -> Iterator[pa.RecordBatch]:
        return self._read(types or {})

    def __repr__(self) -> str:
        return f"Chunk({self.key!r})"


class Source(Protocol):
    @property
    def name(self) -> str:
        """Identity of the source for its watermarks (a pattern, a table); stable across restarts."""
        ...

    def pending(self, marks: dict[str, JSON]) -> list[Chunk]:
        """What is new since ``marks`` (key -> token), in the order it should be ingested."""
        ...


class FileSource:
    """Files matching a glob (CSV, Parquet, JSON lines; gzip/zstd/bz2), each ingested once, oldest name first."""

    def __init__(self, pattern: str | Path, options: ReadOptions | None = None) -> None:
        self.pattern = str(Path(pattern).expanduser().absolute())
        self.options = options or ReadOptions()

    @property
    def name(self) -> str:
        return _short(f"files:{self.pattern}")

    def files(self) -> list[Path]:
        found = sorted(Path(p) for p in glob.glob(self.pattern, recursive=True) if Path(p).is_file())
        for path in found:
            detect_format(path, self.options.format)
        return found

    def pending(self, marks: dict[str, JSON]) -> list[Chunk]:
        chunks = []
        for path in self.files():
            if str(path) in marks:
                continue
            stat = path.stat()
            token: JSON = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            description: JSONObject = {"kind": "file", "path": str(path), "size": stat.st_size, "pattern": self.pattern}
            chunks.append(Chunk(str(path), token, description, self._reader(path), size=stat.st_size))
        return chunks

    def _reader(self, path: Path) -> Reader:
        def read(types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
            return read_batches(path, with_types(self.options, types))

        return read

    def __repr__(self) -> str:
        return f"FileSource({self.pattern!r})"


class SqlSource:
    """Rows of a SQL table whose ``cursor`` column is greater than the last value taken (SQLAlchemy URL)."""

    def __init__(self, url: str, table: str, cursor: str, *, batch_rows: int = 65536) -> None:
        if batch_rows < 1:
            raise ConfigError(f"The 'batch_rows' parameter must be a positive int. Got {batch_rows} instead.")
        self.url = url
        self.table = table
        self.cursor = cursor
        self.batch_rows = batch_rows

    @property
    def name(self) -> str:
        from sqlalchemy.engine import make_url

        # The database without its password: a rotated password is the same source, and no secret is stored.
        url = make_url(self.url)
        plain = f"{url.drivername}://{url.username or ''}@{url.host or ''}:{url.port or ''}/{url.database or ''}"
        where = hashlib.sha256(plain.encode()).hexdigest()[:12]
        return _short(f"sql:{where}:{self.table}:{self.cursor}")

    def pending(self, marks: dict[str, JSON]) -> list[Chunk]:
        last = marks.get("cursor")
        start = _from_token(last)
        description: JSONObject = {"kind": "sql", "table": self.table, "cursor": self.cursor, "after": last}
        chunk = Chunk("cursor", last, description, lambda types: self._rows(chunk, start, types))
        return [chunk]

    def _rows(self, chunk: Chunk, start: Any, types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
        from sqlalchemy import MetaData, Table, create_engine, select
        from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

        engine = create_engine(self.url)
        try:
            try:
                table = Table(self.table, MetaData(), autoload_with=engine)
            except NoSuchTableError as exc:
                raise ConfigError(f"The database has no table {self.table!r}. Check the table name.") from exc
            if self.cursor not in table.c:
                raise ConfigError(
                    f"Table {self.table!r} has no cursor column {self.cursor!r}. Its columns: {list(table.c.keys())}."
                )
            column = table.c[self.cursor]
            query = select(table).order_by(column)
            if start is not None:
                query = query.where(column > start)
            schema: pa.Schema | None = None
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=self.batch_rows).execute(query)
                names = list(result.keys())
                for rows in result.partitions(self.batch_rows):
                    columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
                    batch = pa.RecordBatch.from_pydict(columns)
                    if schema is None:
                        schema = pa.schema([pa.field(f.name, types.get(f.name, f.type)) for f in batch.schema])
                    batch = batch.cast(schema) if batch.schema != schema else batch
                    chunk.token = _to_token(columns[self.cursor][-1])
                    chunk.description = {**chunk.description, "through": chunk.token}
                    yield batch
        except SQLAlchemyError as exc:
            reason = str(exc).splitlines()[0]
            raise ConfigError(f"Reading table {self.table!r} failed: {reason}. Check the URL and the query.") from exc
        finally:
            engine.dispose()

    def __repr__(self) -> str:
        return f"SqlSource(table={self.table!r}, cursor={self.cursor!r})"


class MemorySource:
    """Data already in memory: a pyarrow table or batch, a pandas or polars frame, a numpy array, a dict."""

    def __init__(self, data: Any, *, label: str = "memory") -> None:
        self.table = to_table(data)
        self.label = label

    @property
    def name(self) -> str:
        return _short(f"memory:{self.label}")

    def pending(self, marks: dict[str, JSON]) -> list[Chunk]:
        description: JSONObject = {"kind": "memory", "label": self.label}
        table = self.table

        def read(types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
            batches = table.to_batches()
            return iter(batches or [pa.RecordBatch.from_pylist([], schema=table.schema)])

        # No mark: the same rows given twice are the same version by their digest.
        return [Chunk("", None, description, read, size=table.nbytes)]


def to_table(data: Any) -> pa.Table:
    """An Arrow table from pyarrow, pandas, polars, numpy or a dict of columns, without copying where possible."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars":
        return data.to_arrow()
    if module == "numpy":
        return _from_numpy(data)
    if isinstance(data, dict):
        return pa.table(data)
    raise ConfigError(
        f"Cannot ingest a {type(data).__name__}. Expected a pyarrow Table or RecordBatch, a pandas or polars "
        "DataFrame, a numpy array (2-D or structured) or a dict of columns."
    )


def _from_numpy(array: Any) -> pa.Table:
    try:
        import numpy as np
    except ImportError as exc:  # pragma: no cover - numpy is a core dependency
        raise MissingExtraError("numpy", "Ingesting a numpy array", "numpy") from exc
    if array.dtype.names:
        return pa.table({name: array[name] for name in array.dtype.names})
    if array.ndim == 1:
        return pa.table({"value": array})
    if array.ndim == 2:
        return pa.table({f"c{i}": np.ascontiguousarray(array[:, i]) for i in range(array.shape[1])})
    raise ConfigError(f"A numpy array to ingest must be 1-D, 2-D or structured. Got {array.ndim} dimensions.")


def _to_token(value: Any) -> JSON:
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _from_token(token: JSON) -> Any:
    if isinstance(token, dict):
        if "datetime" in token:
            return datetime.fromisoformat(str(token["datetime"]))
        if "date" in token:
            return date.fromisoformat(str(token["date"]))
    return token


def _short(name: str) -> str:
    """Source names fit the 255-character column: long ones keep their start and gain a digest."""
    if len(name) <= 255:
        return name
    return name[:200] + "#" + hashlib.sha256(name.encode()).hexdigest()[:16]
