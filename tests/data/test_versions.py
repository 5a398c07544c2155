"""Sources, immutable versions, watermarks across restarts, windows and lineage, on slices of real data."""

from __future__ import annotations

import gzip
import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ctml.data import Datasets, FileSource, MemorySource, ReadOptions, SqlSource, Window, digest_table, read_table
from ctml.errors import ConfigError, NotFoundError
from ctml.meta import Node, open_meta
from ctml.store import open_store

from .conftest import head, write_csv


def _open(root: Path) -> Datasets:
    return Datasets(open_meta(f"sqlite:///{root}/meta.db"), open_store(str(root / "artifacts")))


def test_the_same_rows_in_any_format_are_the_same_version(datasets: Datasets, tmp_path: Path) -> None:
    table = head("elec2", 3000)
    csv = write_csv(table, tmp_path / "a.csv")
    first = datasets.ingest("elec", FileSource(csv)).versions[0]
    gz = tmp_path / "b.csv.gz"
    gz.write_bytes(gzip.compress(csv.read_bytes()))
    zst = tmp_path / "c.csv.zst"
    with pa.output_stream(str(zst), compression="zstd") as sink:
        sink.write(csv.read_bytes())
    pq.write_table(read_table(csv), tmp_path / "d.parquet")
    read_table(csv).to_pandas().to_json(tmp_path / "e.jsonl", orient="records", lines=True)

    for pattern in ("b.csv.gz", "c.csv.zst", "d.parquet"):
        again = datasets.ingest("elec", FileSource(tmp_path / pattern))
        assert [(o.version.id if o.version else None, o.is_new) for o in again.outcomes] == [(first.id, False)]
    jsonl = datasets.ingest("elec", FileSource(tmp_path / "e.jsonl"))
    assert jsonl.ok
    assert jsonl.versions[0].rows == 3000
    assert len(datasets.versions("elec")) <= 2
    assert digest_table(datasets.read(first)) == first.digest


def test_each_file_is_ingested_once_across_restarts(tmp_path: Path) -> None:
    table = head("noaa_weather", 3000)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    write_csv(table.slice(0, 1000), incoming / "day1.csv")
    datasets = _open(tmp_path)
    first = datasets.ingest("weather", FileSource(incoming / "*.csv"), target="rain")
    assert [v.version for v in first.new_versions] == [1]
    datasets.meta.close()

    write_csv(table.slice(1000, 1000), incoming / "day2.csv")
    reopened = _open(tmp_path)  # a restart: only the watermark in the store remembers day1
    second = reopened.ingest("weather", FileSource(incoming / "*.csv"))
    assert [(Path(o.label).name, o.version.version if o.version else None) for o in second.outcomes] == [
        ("day2.csv", 2)
    ]
    assert second.skipped == 1
    third = reopened.ingest("weather", FileSource(incoming / "*.csv"))
    assert third.outcomes == ()
    assert third.skipped == 2
    assert reopened.schema("weather@2").target == "rain"
    assert reopened.schema("weather@2").rows == 2000
    reopened.meta.close()


def test_sql_source_reads_past_its_cursor(datasets: Datasets, tmp_path: Path) -> None:
    table = head("powersupply", 300)
    db = tmp_path / "source.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table readings (seq integer primary key, a real, b real, class integer)")
        rows = list(zip(range(1, 301), *(table.column(c).to_pylist() for c in table.column_names), strict=True))
        conn.executemany("insert into readings values (?, ?, ?, ?)", rows[:200])
    source = SqlSource(f"sqlite:///{db}", "readings", "seq", batch_rows=64)
    first = datasets.ingest("power", source, target="class")
    assert [v.rows for v in first.new_versions] == [200]
    assert datasets.ingest("power", source).outcomes == ()
    with sqlite3.connect(db) as conn:
        conn.executemany("insert into readings values (?, ?, ?, ?)", rows[200:])
    second = datasets.ingest("power", source)
    version = second.new_versions[0]
    assert version.rows == 100
    assert datasets.read(version).column("seq").to_pylist() == list(range(201, 301))
    assert (version.source or {})["after"] == 200


def test_sql_source_with_a_wrong_table_is_rejected_with_a_reason(datasets: Datasets, tmp_path: Path) -> None:
    result = datasets.ingest("x", SqlSource(f"sqlite:///{tmp_path}/empty.db", "missing", "id"))
    assert not result.ok
    report = result.rejected[0].report
    assert report is not None
    assert "no table 'missing'" in report.by_check("readable")[0].message
    assert datasets.versions("x") == []


def test_in_memory_frames_arrays_and_dicts(datasets: Datasets) -> None:
    table = head("keystroke", 500)
    frame = table.to_pandas()
    from_arrow = datasets.add("keys", table).versions[0]
    from_pandas = datasets.add("keys", frame)
    assert from_pandas.versions[0].id == from_arrow.id
    assert not from_pandas.outcomes[0].is_new
    from_dict = datasets.add("keys", {c: table.column(c).to_numpy() for c in table.column_names})
    assert from_dict.versions[0].id == from_arrow.id
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3)
    assert datasets.read(datasets.add("grid", matrix).versions[0]).column_names == ["c0", "c1", "c2"]
    with pytest.raises(ConfigError, match="Cannot ingest a set"):
        MemorySource({1, 2})


def test_polars_frames_when_installed(datasets: Datasets) -> None:
    polars = pytest.importorskip("polars")
    table = head("keystroke", 100)
    version = datasets.add("keys", polars.from_arrow(table)).versions[0]
    assert version.digest == digest_table(table)


def test_windows_resolve_to_derived_versions_with_lineage(datasets: Datasets, tmp_path: Path) -> None:
    table = head("bike_sharing_hourly", 3000)
    for index in range(3):
        write_csv(table.slice(index * 1000, 1000), tmp_path / f"part{index}.csv")
    ingested = datasets.ingest("bike", FileSource(tmp_path / "part*.csv"), target="cnt").new_versions
    assert [v.version for v in ingested] == [1, 2, 3]
    assert datasets.schema("bike@1").time_column == "dteday"
    last_day = max(table.column("dteday").to_pylist())
    assert ingested[2].time_max == last_day.isoformat()

    last = datasets.window("bike", Window.last_rows(1500))
    assert last.rows == 1500
    assert datasets.read(last).column("instant").to_pylist() == list(range(1501, 3001))
    parents = {e.src.id for e in datasets.meta.lineage.upstream(Node("dataset_version", last.id), depth=1)}
    assert parents == {ingested[1].id, ingested[2].id}

    recent = datasets.window("bike", Window.last_time(timedelta(days=7)))
    days = datasets.read(recent).column("dteday").to_pylist()
    assert min(days) == last_day - timedelta(days=7)
    assert max(days) == last_day

    since = datasets.window("bike", Window.parse("since:bike@1"))
    assert since.rows == 2000
    whole = datasets.window("bike", Window.all())
    assert whole.rows == 3000
    assert digest_table(datasets.read(whole)) == whole.digest
    assert datasets.window("bike", Window.all()).id == whole.id  # the same window is the same version

    with pytest.raises(NotFoundError, match="no version 9"):
        datasets.get("bike@9")


def test_a_time_window_needs_a_time_column(datasets: Datasets) -> None:
    datasets.add("elec", head("elec2", 200))
    with pytest.raises(ConfigError, match="no time column"):
        datasets.window("elec", Window.parse("time:7d"))


@pytest.mark.parametrize("text", ["last:", "rows:-1", "time:7 parsecs", "since:", "everything"])
def test_bad_windows_say_what_is_expected(text: str) -> None:
    with pytest.raises(ConfigError, match=r"Expected|positive|needs"):
        Window.parse(text)


def test_later_files_keep_the_types_of_earlier_versions(datasets: Datasets, tmp_path: Path) -> None:
    write_csv(pa.table({"x": [0.5, 1.5], "y": ["a", "b"]}), tmp_path / "1.csv")
    (tmp_path / "2.csv").write_text("x,y\n2,a\n3,b\n")  # whole numbers would read as int64 on their own
    result = datasets.ingest("pinned", FileSource(tmp_path / "*.csv"))
    assert result.ok
    assert [str(datasets.read(v).schema.field("x").type) for v in result.versions] == ["double", "double"]


def test_a_latin1_file_reads_with_its_encoding(datasets: Datasets, tmp_path: Path) -> None:
    path = tmp_path / "cities.csv"
    path.write_bytes("city,temp\nZürich,3.5\nMálaga,18.0\n".encode("latin-1"))
    refused = datasets.ingest("cities", FileSource(path))
    report = refused.rejected[0].report
    assert report is not None
    assert "--encoding latin-1" in report.by_check("readable")[0].message
    accepted = datasets.ingest("cities", FileSource(path, ReadOptions(encoding="latin-1")))
    assert datasets.read(accepted.versions[0]).column("city").to_pylist() == ["Zürich", "Málaga"]


def test_a_sql_source_is_named_without_its_password() -> None:
    first = SqlSource("postgresql://etl:old-secret@db.internal/shop", "orders", "id")
    rotated = SqlSource("postgresql://etl:new-secret@db.internal/shop", "orders", "id")
    assert first.name == rotated.name
    assert "secret" not in first.name
    assert first.name != SqlSource("postgresql://etl@db.internal/other", "orders", "id").name


def test_a_column_that_widens_after_the_first_block_is_read_again(datasets: Datasets, tmp_path: Path) -> None:
    table = head("powersupply", 20000)
    lines = write_csv(table, tmp_path / "whole.csv").read_text().splitlines()
    assert lines[1].split(",")[2].isdigit()  # class: whole numbers, inferred int64 from the first block
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",3.5"  # a decimal far past the first block
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n")
    small = ReadOptions(block_size=64 << 10)
    result = datasets.ingest("power", FileSource(path, small))
    assert result.ok, result.as_dict()
    stored = datasets.read(result.versions[0])
    assert str(stored.schema.field("class").type) == "double"
    assert stored.num_rows == 20000
    assert stored.column("class")[-1].as_py() == 3.5
    assert read_table(path, small).schema.field("class").type == pa.float64()


def test_text_in_a_numeric_column_is_a_type_change_finding(datasets: Datasets, tmp_path: Path) -> None:
    table = head("noaa_weather", 600)
    datasets.add("weather", table.slice(0, 300), target="rain")
    lines = write_csv(table.slice(300, 300), tmp_path / "clean.csv").read_text().splitlines()
    lines[-1] = "unknown," + lines[-1].split(",", 1)[1]  # a placeholder in temperature, past the first block
    path = tmp_path / "placeholder.csv"
    path.write_text("\n".join(lines) + "\n")
    result = datasets.ingest("weather", FileSource(path, ReadOptions(block_size=4096)))
    report = result.rejected[0].report
    assert report is not None
    changed = report.by_check("type_changed")[0]
    assert changed.severity == "fail"
    assert changed.column == "temperature"
    assert "from double to string" in changed.message
    assert len(datasets.versions("weather")) == 1
