"""The content digest of a table: sha256 of its column names, types and values, not of any file's bytes.

The digest is fed one record batch at a time and does not depend on how the rows were cut into batches, on
the file format, on compression, or on the pyarrow version that wrote a file. So the same rows ingested twice,
from CSV or from Parquet, are the same dataset version.

>>> import pyarrow as pa
>>> table = pa.table({"x": [1, 2, 3], "y": ["a", None, "c"]})
>>> whole = ContentDigest(table.schema)
>>> for batch in table.to_batches():
...     whole.update(batch)
>>> pieces = ContentDigest(table.schema)
>>> for batch in table.to_batches(max_chunksize=1):
...     pieces.update(batch)
>>> whole.hexdigest() == pieces.hexdigest()
True
>>> whole.hexdigest()[:16]
'647dd9712deadfd9'
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ctml.hashing import canonical_json

__all__ = ["ContentDigest", "digest_table"]


class ContentDigest:
    """A running digest of rows with a fixed schema; one sha256 per column, combined at the end."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._columns = [hashlib.sha256() for _ in schema]
        self._nulls = [hashlib.sha256() for _ in schema]
        self._lengths = [hashlib.sha256() for _ in schema]
        self.rows = 0

    def update(self, batch: pa.RecordBatch) -> None:
        if not batch.schema.equals(self.schema):
            raise ValueError(f"Batch schema {batch.schema} differs from the digest's schema {self.schema}.")
        hashers = zip(batch.columns, self._columns, self._nulls, self._lengths, strict=True)
        for column, hasher, nulls, lengths in hashers:
            if column.null_count:
                # Positions, not a per-batch mask, so the digest does not depend on where batches were cut.
                mask = column.is_null().to_numpy(zero_copy_only=False)
                nulls.update((np.flatnonzero(mask) + self.rows).astype("<i8").tobytes())
            _feed(hasher, lengths, column)
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        header = [{"name": f.name, "type": str(f.type)} for f in self.schema]
        final = hashlib.sha256(canonical_json(header).encode())
        final.update(str(self.rows).encode())
        for hasher, nulls, lengths in zip(self._columns, self._nulls, self._lengths, strict=True):
            final.update(hasher.digest())
            final.update(nulls.digest())
            final.update(lengths.digest())
        return final.hexdigest()


def digest_table(table: pa.Table) -> str:
    """The content digest of a whole table."""
    digest = ContentDigest(table.schema)
    for batch in table.to_batches():
        digest.update(batch)
    return digest.hexdigest()


def _feed(hasher: Any, lengths: Any, column: pa.Array) -> None:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.dictionary_decode()
        kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        _feed_text(hasher, lengths, column)
    elif pa.types.is_boolean(kind):
        hasher.update(np.packbits(column.fill_null(False).to_numpy(zero_copy_only=False)).tobytes())
    elif kind.bit_width and kind.bit_width > 0 and not pa.types.is_decimal(kind):
        filled = column.fill_null(pa.scalar(0).cast(kind)) if column.null_count else column
        values = filled.to_numpy(zero_copy_only=False)
        if values.dtype.kind in "mM":
            values = values.view("int64")
        hasher.update(np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes())
    else:
        hasher.update(canonical_json([None if v is None else str(v) for v in column.to_pylist()]).encode())


def _feed_text(hasher: Any, lengths: Any, column: pa.Array) -> None:
    """Lengths and bytes of the values, in two streams: independent of the offsets' base and of the batch cut."""
    sizes = pc.binary_length(column).fill_null(0).to_numpy(zero_copy_only=False).astype("<i8")
    lengths.update(sizes.tobytes())
    offsets_buffer, data = column.buffers()[1], column.buffers()[2]
    if data is None:
        return
    width = 8 if (pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type)) else 4
    offsets = np.frombuffer(offsets_buffer, dtype=f"<i{width}", count=column.offset + len(column) + 1)
    start, end = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    hasher.update(memoryview(data)[start:end])
