"""A minimal, mergeable column profile computed while data streams by: counts, nulls, min/max/mean, categories.

It is what a dataset version records about its values, and what schema inference starts from. Category counts
are kept for text, boolean and integer columns until a column has more than :data:`MAX_CATEGORIES` distinct
values; past that the column is not categorical and counting stops. (Histograms live in the drift sketch,
:mod:`ctml.data._sketch`; this summary is the part schema inference and validation read.)

>>> import pyarrow as pa
>>> profile = Profile.of(pa.table({"x": [1.0, 2.0, None], "c": ["a", "b", "a"]}))
>>> profile.columns["x"].nulls, profile.columns["x"].min, profile.columns["x"].max, profile.columns["x"].mean
(1, 1.0, 2.0, 1.5)
>>> profile.columns["c"].categories
{'a': 2, 'b': 1}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ctml.types import JSON, JSONObject

__all__ = ["MAX_CATEGORIES", "ColumnProfile", "Profile"]

MAX_CATEGORIES = 200


@dataclass
class ColumnProfile:
    type: str
    count: int = 0
    nulls: int = 0
    min: Any = None
    max: Any = None
    total: float = 0.0
    numeric: int = 0
    categories: dict[str, int] | None = field(default_factory=dict)

    @property
    def mean(self) -> float | None:
        return self.total / self.numeric if self.numeric else None

    @property
    def present(self) -> int:
        return self.count - self.nulls

    def update(self, column: pa.Array) -> None:
        self.count += len(column)
        self.nulls += column.null_count
        if column.null_count == len(column):
            return
        kind = column.type
        if _orderable(kind):
            bounds = pc.min_max(column)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            self.min = low if self.min is None else min(self.min, low)
            self.max = high if self.max is None else max(self.max, high)
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            total = pc.sum(column).as_py()
            if total is not None:
                self.total += float(total)
                self.numeric += len(column) - column.null_count
        if self.categories is not None and _countable(kind):
            counts = pc.value_counts(column.drop_null())
            for value, count in zip(
                counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
            ):
                key = str(value).lower() if isinstance(value, bool) else str(value)
                self.categories[key] = self.categories.get(key, 0) + int(count)
            if len(self.categories) > MAX_CATEGORIES:
                self.categories = None
        elif not _countable(kind):
            self.categories = None

    def as_dict(self) -> JSONObject:
        return {
            "type": self.type,
            "count": self.count,
            "nulls": self.nulls,
            "min": _json(self.min),
            "max": _json(self.max),
            "mean": self.mean,
            "categories": None if self.categories is None else dict(sorted(self.categories.items())),
        }


class Profile:
    """Per-column profiles of a stream of batches with one schema."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self.columns = {f.name: ColumnProfile(str(f.type)) for f in schema}

    @classmethod
    def of(cls, table: pa.Table) -> Profile:
        profile = cls(table.schema)
        for batch in table.to_batches():
            profile.update(batch)
        return profile

    def update(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            self.columns[name].update(column)

    def as_dict(self) -> JSONObject:
        return {"rows": self.rows, "columns": {name: c.as_dict() for name, c in self.columns.items()}}


def _orderable(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_temporal(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
    )


def _countable(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
    )


def _json(value: Any) -> JSON:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
