"""Real data for the data tests: slices of the shared datasets, written to tmp_path, never copied in bulk."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from ctml.data import Datasets
from ctml.meta import open_meta
from ctml.store import open_store

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
if not SHARED.is_dir():  # a checkout next to /work/shared
    SHARED = Path("/work/shared/datasets")

TARGETS = {
    "bike_sharing_hourly": "cnt",
    "elec2": "class",
    "kdd99_10pct": "label",
    "keystroke": "class",
    "luxembourg": "target",
    "noaa_weather": "rain",
    "outdoor": "class",
    "ozone": "class",
    "powersupply": "class",
    "rialto": "class",
    "spam": "class",
    "usenet1": "Label",
}
"""Every dataset in the shared folder and its target (from its README)."""


def dataset_file(name: str) -> Path:
    found = sorted((SHARED / name).glob(f"{name}.csv*"))
    if not found:
        pytest.skip(f"the shared dataset {name} is not available at {SHARED}")
    return found[0]


@functools.cache
def head(name: str, rows: int = 2000) -> pa.Table:
    """The first ``rows`` rows of a shared dataset, read once per session (row order is time order)."""
    reader = pacsv.open_csv(pa.input_stream(str(dataset_file(name)), compression="detect"))
    batches, total = [], 0
    for batch in reader:
        batches.append(batch)
        total += batch.num_rows
        if total >= rows:
            break
    return pa.Table.from_batches(batches).slice(0, rows)


def write_csv(table: pa.Table, path: Path, delimiter: str = ",") -> Path:
    pacsv.write_csv(table, str(path), write_options=pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed"))
    return path


@pytest.fixture
def datasets(tmp_path: Path) -> Iterator[Datasets]:
    meta = open_meta(f"sqlite:///{tmp_path}/meta.db")
    try:
        yield Datasets(meta, open_store(str(tmp_path / "artifacts")))
    finally:
        meta.close()
