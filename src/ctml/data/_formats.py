"""Reading data files as a stream of Arrow record batches, in bounded memory.

CSV, Parquet and JSON lines, each optionally compressed with gzip, zstd or bz2 (told by the file name). CSV and
JSON lines are parsed by pyarrow's multi-threaded readers one block at a time, so a file larger than memory is
read with memory proportional to the block size. Every failure of a reader is turned into a
:class:`~ctml.errors.ConfigError` that names the file, says what was wrong and how to fix it: a truncated
archive, bytes that are not UTF-8, a row with the wrong number of fields, an empty file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from ctml.errors import ConfigError

__all__ = [
    "FORMATS",
    "ReadOptions",
    "WiderType",
    "detect_format",
    "read_batches",
    "read_table",
    "read_widening",
    "with_types",
]

FORMATS = ("csv", "parquet", "jsonl")
_COMPRESSED = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
_SUFFIXES |= {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_CONVERSION = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+): invalid value '(.*)'")
_BLOCK = 4 << 20
_MAX_WIDENINGS = 16


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file. ``column_types`` pins Arrow types by column name (e.g. from an earlier version)."""

    format: str | None = None
    delimiter: str | None = None
    encoding: str = "utf8"
    block_size: int = _BLOCK
    column_types: dict[str, pa.DataType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ConfigError(f"The 'format' option must be one of {', '.join(FORMATS)}. Got {self.format!r} instead.")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ConfigError(f"The 'delimiter' option must be one character. Got {self.delimiter!r} instead.")
        if self.block_size < 1 << 10:
            raise ConfigError(f"The 'block_size' option must be at least 1024 bytes. Got {self.block_size} instead.")


def detect_format(path: str | Path, declared: str | None = None) -> tuple[str, str | None]:
    """(format, compression) of ``path`` from its name: ``x.csv.gz`` -> ``('csv', 'gzip')``.

    >>> detect_format("rides/2024-01.csv.zst")
    ('csv', 'zstd')
    >>> detect_format("events.jsonl")
    ('jsonl', None)
    """
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = _COMPRESSED.get(suffixes[-1]) if suffixes else None
    if compression is not None:
        suffixes = suffixes[:-1]
    if declared is not None:
        return declared, compression
    kind = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if kind is None:
        raise ConfigError(
            f"Cannot tell the format of {str(path)!r} from its name. Expected a name ending in "
            f".csv, .tsv, .parquet, .jsonl or .ndjson (optionally .gz/.zst/.bz2), or pass format='csv'."
        )
    return kind, compression


def read_batches(path: str | Path, options: ReadOptions | None = None) -> Iterator[pa.RecordBatch]:
    """The record batches of one file, read lazily; a file with no rows yields nothing."""
    options = options or ReadOptions()
    kind, compression = detect_format(path, options.format)
    where = str(path)
    if not Path(path).is_file():
        raise ConfigError(f"No file at {where!r}. Check the path or the glob pattern.")
    try:
        if kind == "parquet":
            yield from _parquet(where)
        elif kind == "jsonl":
            yield from _jsonl(where, compression, options)
        else:
            yield from _csv(where, compression, options)
    except ConfigError:
        raise
    except (pa.ArrowInvalid, OSError, EOFError, pa.ArrowException) as exc:
        raise _explain(where, kind, compression, options, exc) from exc


def read_table(path: str | Path, options: ReadOptions | None = None) -> pa.Table:
    """A whole file as one table (for references and small batches; ingest streams instead)."""
    batches = read_widening(path, options)
    if not batches:
        return pa.table({})
    return pa.Table.from_batches(batches)


def _csv(where: str, compression: str | None, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    delimiter = options.delimiter or ("\t" if ".tsv" in Path(where).suffixes else ",")
    if _is_empty(where, compression):
        return
    stream = pa.input_stream(where, compression=compression)
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=options.block_size, encoding=options.encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(column_types=options.column_types or None),
        )
        empty = True
        batches = iter(reader)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise _widening(reader.schema, options, exc) or exc from exc
            _check_text(where, batch, options)
            empty = False
            yield batch
        if empty:  # a header and no rows: the columns still count for validation
            yield pa.RecordBatch.from_pylist([], schema=reader.schema)
    finally:
        stream.close()


class WiderType(Exception):
    """A column's type was inferred from the first block, and a later block holds wider values.

    The reader cannot go back, so whoever consumes the batches starts over with ``column`` pinned to ``type``
    (:func:`read_widening` does it for a whole file).
    """

    def __init__(self, column: str, kind: pa.DataType) -> None:
        super().__init__(f"column {column!r} needs type {kind}")
        self.column = column
        self.type = kind


def _widening(schema: pa.Schema, options: ReadOptions, exc: BaseException) -> WiderType | None:
    match = _CONVERSION.search(str(exc))
    if match is None or "\ufffd" in match.group(3):
        return None
    name = schema.names[int(match.group(1))]
    current = options.column_types.get(name, schema.field(name).type)
    try:
        float(match.group(3))
    except ValueError:
        # Text where numbers (or dates) were: read it as text, and let validation report the type change.
        return None if pa.types.is_string(current) else WiderType(name, pa.string())
    return WiderType(name, pa.float64()) if pa.types.is_integer(current) else None


def read_widening(path: str | Path, options: ReadOptions | None = None) -> list[pa.RecordBatch]:
    """All batches of a file, reading it again with wider types when a later block needs them."""
    options = options or ReadOptions()
    for _ in range(_MAX_WIDENINGS):
        try:
            return list(read_batches(path, options))
        except WiderType as wider:
            options = replace(options, column_types={**options.column_types, wider.column: wider.type})
    return list(read_batches(path, options))


def _jsonl(where: str, compression: str | None, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    if _is_empty(where, compression):
        return
    stream = pa.input_stream(where, compression=compression)
    try:
        # Types are not pinned: an explicit schema would turn a dropped field into a column of nulls.
        read = pajson.ReadOptions(block_size=options.block_size)
        yield from pajson.open_json(stream, read_options=read)
    finally:
        stream.close()


def _parquet(where: str) -> Iterator[pa.RecordBatch]:
    handle = pq.ParquetFile(where)
    try:
        yield from handle.iter_batches(batch_size=1 << 17)
    finally:
        handle.close()


def _is_empty(where: str, compression: str | None) -> bool:
    """Whether the (decompressed) file holds no bytes; a truncated archive raises here, before any reader."""
    stream = pa.input_stream(where, compression=compression)
    try:
        return not stream.read(1)
    finally:
        stream.close()


def _check_text(where: str, batch: pa.RecordBatch, options: ReadOptions) -> None:
    """pyarrow reads a text column with bytes that are not UTF-8 as binary: say so instead of storing bytes."""
    for index, column in enumerate(batch.columns):
        if pa.types.is_binary(column.type) and batch.schema.field(index).name not in options.column_types:
            name = batch.schema.field(index).name
            raise ConfigError(
                f"Column {name!r} of {where!r} holds bytes that are not valid {options.encoding.upper()} text. "
                "Expected text in that encoding. Re-encode the file as UTF-8, or pass the file's encoding "
                "(for example --encoding latin-1)."
            )


def _explain(where: str, kind: str, compression: str | None, options: ReadOptions, exc: BaseException) -> ConfigError:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    lowered = text.lower()
    if compression and any(w in lowered for w in ("truncated", "compressed", "gzip", "zstd", "inflate", "bz2")):
        return ConfigError(
            f"{where!r} is not a complete {compression} archive ({first}). The file was cut short or is corrupt; "
            "copy it again from its source. Nothing from it was stored."
        )
    if "utf8" in lowered or "utf-8" in lowered:
        return ConfigError(
            f"{where!r} holds bytes that are not valid {options.encoding.upper()} text ({first}). Re-encode the file "
            "as UTF-8, or pass the file's encoding (for example --encoding latin-1)."
        )
    match = _CONVERSION.search(text)
    if match is not None and "\ufffd" in match.group(3):
        return ConfigError(
            f"Column #{match.group(1)} of {where!r} has bytes that are not valid {options.encoding.upper()} text "
            f"(the value {match.group(3)!r}). Re-encode the file as UTF-8, or pass the file's encoding "
            "(for example --encoding latin-1)."
        )
    if match is not None:
        return ConfigError(
            f"Column #{match.group(1)} of {where!r} has the value {match.group(3)!r}, which is not a {match.group(2)} "
            "as in earlier versions of this dataset. Fix the value upstream, or validate the file to see every finding."
        )
    if "expected" in lowered and "columns" in lowered:
        return ConfigError(
            f"{where!r} has a row with the wrong number of fields ({first}). Expected every row to have as many "
            f"fields as the header. Check the delimiter (read with {options.delimiter or ','!r}; pass --delimiter) "
            "and quoting."
        )
    return ConfigError(f"Cannot read {where!r} as {kind}: {first}. Check the file and its format options.")


def with_types(options: ReadOptions, types: dict[str, pa.DataType]) -> ReadOptions:
    """``options`` with ``types`` pinned for the columns it does not pin already."""
    return replace(options, column_types={**types, **options.column_types})
