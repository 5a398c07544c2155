"""Every dataset version stores a drift profile; later versions share the first one's histogram edges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from ctml.data import Datasets, FileSource
from ctml.data._sketch import MAX_SKETCH_CATEGORIES, StreamSketch
from ctml.drift import DatasetProfile, NumericProfile, compare, profile

from .conftest import head, write_csv


def test_versions_store_mergeable_sketches_on_the_first_versions_edges(datasets: Datasets, tmp_path: Path) -> None:
    table = head("elec2", 6000)
    write_csv(table.slice(0, 3000), tmp_path / "a.csv")
    datasets.ingest("elec2", FileSource(str(tmp_path / "a.csv")), validate=False)
    write_csv(table.slice(3000), tmp_path / "b.csv")
    datasets.ingest("elec2", FileSource(str(tmp_path / "*.csv")), validate=False)
    newest, first = datasets.meta.datasets.list("elec2")[:2]
    assert (first.version, newest.version) == (1, 2)
    one = DatasetProfile.from_json(first.profile["drift"])  # type: ignore[index]
    two = DatasetProfile.from_json(newest.profile["drift"])  # type: ignore[index]
    assert (one.rows, two.rows) == (3000, 3000)
    for name, column in one.columns.items():
        if isinstance(column, NumericProfile):
            other = two.columns[name]
            assert isinstance(other, NumericProfile)
            np.testing.assert_array_equal(column.edges, other.edges, err_msg=name)
    # Drift of version 2 against version 1 from the stored sketches alone equals it from version 1's sketch
    # and version 2's raw rows.
    from_sketches = compare(one, two)
    from_rows = compare(one, table.slice(3000).select(list(two.columns)))
    assert [c.drifted for c in from_sketches.columns] == [c.drifted for c in from_rows.columns]
    assert one.merge(two).rows == 6000


def test_unbounded_columns_are_left_out_and_named() -> None:
    ids = [f"id-{i}" for i in range(MAX_SKETCH_CATEGORIES + 5)]
    table = pa.table(
        {
            "id": ids,
            "x": np.arange(len(ids), dtype=np.float64),
            "at": pa.array(np.arange(len(ids)), pa.timestamp("s")),
        }
    )
    sketch = StreamSketch()
    for batch in table.to_batches(max_chunksize=300):
        sketch.update(batch)
    stored = sketch.as_json()
    assert set(stored["skipped"]) == {"id", "at"}
    assert "distinct values" in stored["skipped"]["id"]
    assert list(stored["columns"]) == ["x"]
    assert stored["rows"] == len(ids)
    whole = profile(table.select(["x"]), reference=DatasetProfile.from_json(stored))
    assert whole.columns["x"].counts.sum() == len(ids)  # type: ignore[union-attr]
