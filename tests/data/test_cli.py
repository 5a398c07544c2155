"""``ctml data`` and ``ctml bench ingest`` through click, on real data slices."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner, Result

from ctml.cli._bench_ingest import ingest as bench_ingest_command
from ctml.cli._context import make_state
from ctml.cli._data import data
from ctml.cli._main import _Group

from .conftest import head, write_csv


def _cli(home: Path) -> click.Group:
    """The ``data`` group under a root like ``ctml``'s (same error boundary), with its own home."""

    @click.group(cls=_Group)
    @click.pass_context
    def root(ctx: click.Context) -> None:
        state = make_state(str(home), None, None)
        ctx.obj = state
        ctx.call_on_close(state.close)

    root.add_command(data)
    bench = click.Group("bench")
    bench.add_command(bench_ingest_command)
    root.add_command(bench)
    return root


@pytest.fixture
def ctml(tmp_path: Path) -> object:
    runner = CliRunner()
    root = _cli(tmp_path / "home")

    def invoke(*args: str) -> Result:
        return runner.invoke(root, list(args), catch_exceptions=False)

    return invoke


def test_ingest_versions_schema_validate_and_window(ctml: object, tmp_path: Path) -> None:
    run = ctml  # type: ignore[assignment]
    table = head("elec2", 3000)
    incoming = tmp_path / "in"
    incoming.mkdir()
    write_csv(table.slice(0, 2000), incoming / "a.csv")
    write_csv(table.slice(2000, 1000), incoming / "b.csv")

    first = run("data", "ingest", str(incoming / "*.csv"), "--name", "elec", "--target", "class")  # type: ignore[operator]
    assert first.exit_code == 0, first.output
    assert "elec@1" in first.output
    assert "elec@2" in first.output
    assert "2 new version(s)" in first.output
    again = run("data", "ingest", str(incoming / "*.csv"), "-n", "elec", "--json")  # type: ignore[operator]
    assert json.loads(again.output)["new_versions"] == 0
    assert json.loads(again.output)["skipped"] == 2

    listed = json.loads(run("data", "versions", "elec", "--json").output)  # type: ignore[operator]
    assert [(v["version"], v["rows"]) for v in listed] == [(2, 1000), (1, 2000)]
    assert "elec@2" in run("data", "versions").output  # type: ignore[operator]

    schema_file = tmp_path / "schema.toml"
    wrote = run("data", "schema", "elec@2", "-o", str(schema_file))  # type: ignore[operator]
    assert wrote.exit_code == 0
    assert 'target = "class"' in schema_file.read_text()

    clean = write_csv(table.slice(2500, 300), tmp_path / "clean.csv")
    ok = run("data", "validate", str(clean), "--schema", str(schema_file))  # type: ignore[operator]
    assert ok.exit_code == 0
    assert "passed" in ok.output

    scaled = table.slice(2500, 300)
    scaled = scaled.set_column(3, "nswprice", pc.multiply(scaled.column("nswprice"), 1000.0))
    bad = write_csv(scaled, tmp_path / "bad.csv")
    failed = run("data", "validate", str(bad), "--reference", "elec")  # type: ignore[operator]
    assert failed.exit_code == 1
    assert "FAILED" in failed.output
    assert "nswprice" in failed.output
    assert "unit change" in failed.output
    report = json.loads(run("data", "validate", str(bad), "--reference", "elec@1", "--json").output)  # type: ignore[operator]
    assert report["passed"] is False
    assert report["findings"][0]["check"] == "out_of_range"

    rejected = run("data", "ingest", str(bad), "-n", "elec")  # type: ignore[operator]
    assert rejected.exit_code == 1
    assert "rejected" in rejected.output
    assert "out_of_range" in rejected.output
    assert len(json.loads(run("data", "versions", "elec", "--json").output)) == 2  # type: ignore[operator]

    window = run("data", "window", "elec", "last:1500")  # type: ignore[operator]
    assert window.exit_code == 0
    assert "elec@3 (1500 rows" in window.output
    assert "elec@1, elec@2" in window.output


def test_user_errors_are_one_line_and_status_2(ctml: object, tmp_path: Path) -> None:
    run = ctml  # type: ignore[assignment]
    missing = run("data", "ingest", str(tmp_path / "nothing-*.csv"), "-n", "x")  # type: ignore[operator]
    assert missing.exit_code == 2
    assert "No file matches" in missing.output
    path = write_csv(head("keystroke", 50), tmp_path / "k.csv")
    neither = run("data", "validate", str(path))  # type: ignore[operator]
    assert neither.exit_code == 2
    assert "exactly one of --reference" in neither.output
    unknown = run("data", "validate", str(path), "--reference", "nope")  # type: ignore[operator]
    assert unknown.exit_code == 2
    assert "No dataset or dataset version 'nope'" in unknown.output


def test_bench_ingest_quick_json(ctml: object) -> None:
    run = ctml  # type: ignore[assignment]
    done = run("bench", "ingest", "--quick", "--json")  # type: ignore[operator]
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    for key in ("ctml_rows_per_s", "pandas_rows_per_s", "pyarrow_rows_per_s", "ctml_peak_mb", "file_mb"):
        assert found[key] > 0, key
    assert found["rows"] > 100_000
