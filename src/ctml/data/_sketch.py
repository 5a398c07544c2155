"""The drift profile of a dataset version, built batch by batch while it is ingested.

Every version stores, beside its summary, the mergeable sketches of :func:`ctml.drift.profile`: histograms on
edges taken from the dataset's first version (so every later version compares and merges with it bin for
bin), and category counts. Drift on a new window is then computed from stored profiles, without the raw
reference data. Columns that cannot be sketched in bounded space are left out and named: times and binary
values, and text columns with more than :data:`MAX_SKETCH_CATEGORIES` distinct values (identifiers, free
text), whose counts would grow with the data.

>>> import pyarrow as pa
>>> sketch = StreamSketch()
>>> for part in pa.table({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "a"]}).to_batches(max_chunksize=2):
...     sketch.update(part)
>>> stored = sketch.as_json()
>>> stored["rows"], stored["columns"]["c"]["categories"], stored["skipped"]
(4, {'a': 3, 'b': 1}, {})
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ctml.drift import CategoricalProfile, DatasetProfile, profile

__all__ = ["MAX_SKETCH_CATEGORIES", "StreamSketch"]

MAX_SKETCH_CATEGORIES = 1000


def _sketchable(kind: pa.DataType) -> bool:
    return not (
        pa.types.is_temporal(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_nested(kind)
    )


class StreamSketch:
    """Merges the drift profiles of a stream of batches; ``reference`` fixes the histogram edges."""

    def __init__(self, reference: DatasetProfile | None = None) -> None:
        self._edges = reference
        self._merged: DatasetProfile | None = None
        self.skipped: dict[str, str] = {}

    def update(self, batch: pa.RecordBatch) -> None:
        keep = [name for name in batch.schema.names if name not in self.skipped]
        for name in keep:
            if not _sketchable(batch.schema.field(name).type):
                self.skipped[name] = f"type {batch.schema.field(name).type} has no bounded sketch"
        table = pa.Table.from_batches([batch]).select([n for n in keep if n not in self.skipped])
        part = profile(table, reference=self._edges)
        wide = {
            name
            for name, column in part.columns.items()
            if isinstance(column, CategoricalProfile) and len(column.categories) > MAX_SKETCH_CATEGORIES
        }
        if self._merged is not None:
            wide |= {
                name
                for name, column in self._merged.columns.items()
                if name in part.columns
                and isinstance(column, CategoricalProfile)
                and isinstance(part.columns[name], CategoricalProfile)
                and len(set(column.categories) | set(part.columns[name].categories)) > MAX_SKETCH_CATEGORIES  # type: ignore[union-attr]
            }
        for name in wide:
            self.skipped[name] = f"more than {MAX_SKETCH_CATEGORIES} distinct values"
        part = _without(part, self.skipped)
        if self._merged is None:
            self._merged = part
            # Later batches reuse these edges: the reference's where it had the column, else the first batch's.
            self._edges = part
        else:
            self._merged = _without(self._merged, self.skipped).merge(part)

    def as_json(self) -> dict[str, Any]:
        merged = self._merged.to_json() if self._merged is not None else {"rows": 0, "columns": {}}
        return {**merged, "skipped": dict(sorted(self.skipped.items()))}


def _without(sketch: DatasetProfile, names: dict[str, str]) -> DatasetProfile:
    if not any(name in sketch.columns for name in names):
        return sketch
    return DatasetProfile(rows=sketch.rows, columns={k: v for k, v in sketch.columns.items() if k not in names})
