"""Every shared dataset ingests, versions and validates; each kind of corruption gets the right finding.

For each dataset the first 1,000 rows are stored as the reference version; the next 400 rows are the new batch,
written to a file either clean or corrupted. A corrupted batch must be rejected with a ``fail`` finding of the
right check and a message that names the problem, and must leave the stored versions, their data and the
watermark exactly as they were.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ctml.data import Datasets, FileSource, MemorySource, Schema, digest_table, validate_file
from ctml.meta import DatasetVersion
from ctml.meta import open_meta as _open_meta
from ctml.store import open_store

from .conftest import TARGETS, head, write_csv

REFERENCE_ROWS = 1000
BATCH_ROWS = 400


class Stored:
    """One workspace per test module holding each dataset's reference version."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = _open_meta(f"sqlite:///{root}/meta.db")
        self.datasets = Datasets(self.meta, open_store(str(root / "artifacts")))
        self.references: dict[str, DatasetVersion] = {}

    def reference(self, name: str) -> DatasetVersion:
        if name not in self.references:
            table = head(name, REFERENCE_ROWS + BATCH_ROWS).slice(0, REFERENCE_ROWS)
            result = self.datasets.ingest(name, MemorySource(table), target=TARGETS[name])
            assert result.ok, result.as_dict()
            self.references[name] = result.versions[0]
        return self.references[name]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    store = Stored(tmp_path_factory.mktemp("corruptions"))
    yield store  # type: ignore[misc]
    store.meta.close()


def batch(name: str) -> pa.Table:
    return head(name, REFERENCE_ROWS + BATCH_ROWS).slice(REFERENCE_ROWS, BATCH_ROWS)


def feature(schema: Schema, table: pa.Table) -> str:
    """A non-target column to drop or rename."""
    return next(c.name for c in schema.columns if c.name != schema.target and c.name in table.column_names)


def scaled_column(schema: Schema, table: pa.Table) -> str:
    """The numeric feature whose values are most often non-zero: a x1000 change shows on most rows."""
    best, share = None, -1.0
    for column in schema.columns:
        kind = table.schema.field(column.name).type
        if column.name == schema.target or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            continue
        values = table.column(column.name)
        nonzero = pc.sum(pc.not_equal(values, 0).cast(pa.int64())).as_py() / len(values)
        if nonzero > share and column.max != column.min:
            best, share = column.name, nonzero
    assert best is not None
    return best


def categorical_column(schema: Schema) -> str:
    """The target when it is categorical, else a text column, else an integer category (bike sharing)."""
    columns = [c for c in schema.columns if c.categories is not None]
    first = [c for c in columns if c.name == schema.target] + [c for c in columns if c.type == "string"]
    return (first or columns)[0].name


def _drop(schema: Schema, table: pa.Table, folder: Path) -> tuple[Path, str, str]:
    column = feature(schema, table)
    return write_csv(table.drop_columns([column]), folder / "dropped.csv"), "missing_column", column


def _rename(schema: Schema, table: pa.Table, folder: Path) -> tuple[Path, str, str]:
    column = feature(schema, table)
    names = [f"{n}_v2" if n == column else n for n in table.column_names]
    return write_csv(table.rename_columns(names), folder / "renamed.csv"), "renamed_column", column


def _unit(schema: Schema, table: pa.Table, folder: Path) -> tuple[Path, str, str]:
    column = scaled_column(schema, table)
    index = table.column_names.index(column)
    scaled = pc.multiply(table.column(column).cast(pa.float64()), 1000.0)
    return write_csv(table.set_column(index, column, scaled), folder / "unit.csv"), "out_of_range", column


def _category(schema: Schema, table: pa.Table, folder: Path) -> tuple[Path, str, str]:
    column = categorical_column(schema)
    index = table.column_names.index(column)
    values = table.column(column).to_pylist()
    if isinstance(values[0], str):
        new: object = "never-seen-before"
    else:
        known = schema.column(column).categories or ()
        new = max(int(v) for v in [*values, *known] if v is not None) + 1
    changed = [new if i % 5 == 0 else v for i, v in enumerate(values)]
    array = pa.array(changed, type=table.schema.field(column).type)
    return write_csv(table.set_column(index, column, array), folder / "category.csv"), "unseen_categories", column


def _empty(schema: Schema, table: pa.Table, folder: Path) -> tuple[Path, str, str]:
    path = folder / "empty.csv"
    path.write_bytes(b"")
    return path, "empty", ""


def _truncated(schema: Schema, table: pa.Table, folder: Path) -> tuple[Path, str, str]:
    raw = gzip.compress(write_csv(table, folder / "whole.csv").read_bytes())
    (folder / "whole.csv").unlink()
    path = folder / "truncated.csv.gz"
    path.write_bytes(raw[: len(raw) // 2])
    return path, "readable", "gzip"


def _delimiter(schema: Schema, table: pa.Table, folder: Path) -> tuple[Path, str, str]:
    return write_csv(table, folder / "semicolons.csv", delimiter=";"), "delimiter", "';'"


def _encoding(schema: Schema, table: pa.Table, folder: Path) -> tuple[Path, str, str]:
    lines = write_csv(table, folder / "text.csv").read_bytes().split(b"\n")
    (folder / "text.csv").unlink()
    lines[5] = lines[5].replace(b",", b"\xff,", 1)  # Latin-1 bytes inside the first field of one row
    path = folder / "latin1.csv"
    path.write_bytes(b"\n".join(lines))
    return path, "readable", "UTF8"


CORRUPTIONS: dict[str, Callable[[Schema, pa.Table, Path], tuple[Path, str, str]]] = {
    "dropped_column": _drop,
    "renamed_column": _rename,
    "unit_x1000": _unit,
    "new_category": _category,
    "empty_file": _empty,
    "truncated_gzip": _truncated,
    "wrong_delimiter": _delimiter,
    "non_utf8": _encoding,
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_clean_batch_ingests_and_reingest_is_a_no_op(stored: Stored, name: str, tmp_path: Path) -> None:
    reference = stored.reference(name)
    path = write_csv(batch(name), tmp_path / f"{name}-clean.csv")
    first = stored.datasets.ingest(name, FileSource(path))
    assert first.ok, [f.message for o in first.rejected for f in (o.report.findings if o.report else ())]
    assert len(first.new_versions) == 1
    assert first.new_versions[0].rows == BATCH_ROWS
    assert stored.datasets.schema(first.new_versions[0]).rows == REFERENCE_ROWS + BATCH_ROWS
    again = stored.datasets.ingest(name, FileSource(path))
    assert again.outcomes == ()
    assert again.skipped == 1
    assert stored.datasets.read(reference).num_rows == REFERENCE_ROWS


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_corruption_is_caught_and_stored_data_untouched(stored: Stored, name: str, kind: str, tmp_path: Path) -> None:
    reference = stored.reference(name)
    schema = stored.datasets.schema(reference)
    path, check, named = CORRUPTIONS[kind](schema, batch(name), tmp_path)
    before = stored.datasets.versions(name)
    source = FileSource(path)

    result = stored.datasets.ingest(name, source)

    if kind == "new_category" and schema.column(named).type.startswith("int") and named != schema.target:
        # A new value of an integer feature warns (a month first seen in spring is not an error): stored.
        assert result.ok
        assert result.outcomes[0].report is not None
        warned = result.outcomes[0].report.by_check(check)
        assert warned
        assert warned[0].severity == "warn"
        assert warned[0].column == named
        assert digest_table(stored.datasets.read(reference)) == reference.digest
        return
    assert not result.ok
    assert not result.new_versions
    report = result.rejected[0].report
    assert report is not None
    assert not report.passed
    found = report.by_check(check)
    assert found, f"expected a {check!r} finding, got {[(f.check, f.message) for f in report.findings]}"
    named_in = [f for f in found if named.upper() in f.message.upper().replace("-", "")]
    assert named_in, f"no {check!r} finding names {named!r}: {[f.message for f in found]}"
    assert named_in[0].severity == "fail"
    if named_in[0].column is not None:
        assert named_in[0].column == named
    assert stored.datasets.versions(name) == before
    assert digest_table(stored.datasets.read(reference)) == reference.digest
    assert stored.meta.watermarks.get(f"{name}|{source.name}") == {}
    decision = stored.meta.decisions.list(kind="validation", limit=1)[0]
    assert decision.outcome == "rejected"
    assert decision.evidence["source"] == str(path)
    direct = validate_file(path, schema)
    assert direct.by_check(check)
    assert not direct.passed
