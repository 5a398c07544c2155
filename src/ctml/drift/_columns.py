"""Arrow columns as the two kinds drift knows: numeric (float64, NaN for null) and categorical (text).

>>> import pyarrow as pa
>>> column_kind(pa.int32()), column_kind(pa.string()), column_kind(pa.bool_())
('numeric', 'categorical', 'categorical')
>>> numeric_values(pa.chunked_array([[1, None, 3]])).tolist()
[1.0, nan, 3.0]
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Kind", "column_kind", "numeric_values"]

Kind = Literal["numeric", "categorical"]


def column_kind(dtype: pa.DataType) -> Kind:
    """Integers, floats and decimals are numeric; everything else (text, booleans, dictionaries) categorical."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    return "categorical"


def numeric_values(column: pa.ChunkedArray | pa.Array, *, copy: bool = False) -> npt.NDArray[np.float64]:
    """The column as float64, nulls as NaN.

    Zero-copy (read-only) for a single-chunk float64 column without nulls unless ``copy``; with ``copy`` the
    result is always a fresh writable array, made in one pass over the chunks.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for chunk in chunks:
        floats = chunk if chunk.type == pa.float64() else pc.cast(chunk, pa.float64())
        if floats.null_count:
            floats = pc.fill_null(floats, np.nan)
        parts.append(_float_view(floats))
    if not parts:
        return np.zeros(0, dtype=np.float64)
    if len(parts) == 1:
        return parts[0].copy() if copy else parts[0]
    return np.concatenate(parts)


def _float_view(chunk: pa.Array) -> npt.NDArray[np.float64]:
    """A float64 chunk without nulls as a read-only numpy view of its data buffer.

    Read straight from the buffer: ``Array.to_numpy`` imports pandas on first use, a second of start-up.
    """
    data = chunk.buffers()[1]
    if data is None or len(chunk) == 0:
        return np.zeros(0, dtype=np.float64)
    return np.frombuffer(data, dtype=np.float64, count=len(chunk), offset=chunk.offset * 8)
