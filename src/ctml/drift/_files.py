"""Reading a reference or current window from a CSV or Parquet file into an Arrow table.

Parquet is read one column at a time, so the decoding buffers of one column are alive at a time and the
peak memory stays close to the size of the table itself.

>>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
>>> folder = tempfile.mkdtemp()
>>> pq.write_table(pa.table({"x": [1.0, 2.0]}), f"{folder}/w.parquet")
>>> read_table(f"{folder}/w.parquet").column("x").to_pylist()
[1.0, 2.0]
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv

from ctml.errors import ConfigError

__all__ = ["read_table"]


def read_table(path: str | Path) -> pa.Table:
    """A ``.parquet``/``.pq``, ``.csv``/``.csv.gz`` or ``.tsv`` file as a table; bad files raise ConfigError."""
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return _read_parquet(path)
        if name.endswith((".csv", ".csv.gz", ".txt")):
            return csv.read_csv(path)
        if name.endswith(".tsv"):
            return csv.read_csv(path, parse_options=csv.ParseOptions(delimiter="\t"))
    except (pa.ArrowInvalid, OSError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Expected a readable CSV or Parquet file.") from exc
    raise ConfigError(f"Cannot tell the format of {path} from its name. Expected .csv, .csv.gz, .tsv, .parquet or .pq.")


def _read_parquet(path: Path) -> pa.Table:
    source = pq.ParquetFile(path, pre_buffer=False)
    pool = pa.default_memory_pool()
    columns: dict[str, pa.ChunkedArray] = {}
    for name in source.schema_arrow.names:
        columns[name] = source.read(columns=[name], use_threads=False).column(0)
        # Hand the decoder's scratch memory back before the next column is decoded.
        pool.release_unused()
    return pa.table(columns) if columns else source.read()
