"""The tracking benchmark on its quick workload, ctml only: the JSON it prints and the rows it really wrote."""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctml.bench import INSTALL_HINT, TrackingResult, Workload, bench_tracking
from ctml.bench.tracking import _plan
from ctml.cli import cli
from ctml.errors import ConfigError
from ctml.meta import open_meta
from ctml.types import RunStatus

KEYS = {
    "ctml_write_s",
    "mlflow_write_s",
    "write_speedup",
    "ctml_query_s",
    "mlflow_query_s",
    "query_speedup",
    "runs",
    "params_per_run",
    "metrics_per_run",
    "queries",
    "runs_returned",
    "repeats",
    "seed",
    "versions",
    "mlflow_skipped",
    "mlflow_install",
}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrackingResult, Path]:
    workdir = tmp_path_factory.mktemp("bench")
    return bench_tracking(Workload.quick(), mlflow=False, workdir=workdir), workdir


def test_json_has_the_numbers_and_says_mlflow_was_skipped(quick: tuple[TrackingResult, Path]) -> None:
    result, _ = quick
    out = json.loads(json.dumps(result.as_dict()))
    assert set(out) >= KEYS
    assert out["ctml_write_s"] > 0
    assert out["ctml_query_s"] > 0
    assert all(s > 0 for s in out["ctml_write_samples_s"] + out["ctml_query_samples_s"])
    for key in ("mlflow_write_s", "mlflow_query_s", "write_speedup", "query_speedup", "meets_targets"):
        assert out[key] is None, key
    assert out["mlflow_install"] == INSTALL_HINT
    assert (out["runs"], out["params_per_run"], out["metrics_per_run"], out["queries"]) == (20, 20, 50, 5)
    assert out["versions"]["ctml"]
    assert "mlflow" not in out["versions"]


def test_the_workload_really_wrote_its_rows(quick: tuple[TrackingResult, Path]) -> None:
    result, workdir = quick
    database = workdir / "ctml-1" / "meta.db"
    with open_meta(f"sqlite:///{database}") as meta:
        found = meta.runs.search(app="bench-tracking", limit=1000)
        assert meta.runs.count(app="bench-tracking") == 20
    assert len(found) == 20
    assert all(r.status == RunStatus.FINISHED for r in found)
    assert all((len(r.params), len(r.metrics), len(r.tags)) == (20, 50, 2) for r in found)
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("SELECT count(*) FROM metrics").fetchone() == (20 * 50,)
        assert conn.execute("SELECT count(*) FROM params").fetchone() == (20 * 20,)
    assert result.ctml.stored.runs == 20
    assert result.ctml.stored.metrics == 20 * 50


def test_the_searches_returned_what_the_filters_select(quick: tuple[TrackingResult, Path]) -> None:
    result, _ = quick
    plan = _plan(Workload.quick())
    assert result.runs_returned == sum(plan.matches)
    assert 0 < result.runs_returned < 20 * 5  # the filters select, they do not pass everything
    assert result.ctml.returned.runs == result.runs_returned
    assert result.ctml.returned.metrics == result.runs_returned * 50
    assert list(result.filters) == plan.filters


def test_the_data_is_the_same_every_time() -> None:
    assert _plan(Workload.quick()) == _plan(Workload.quick())
    assert _plan(Workload.quick()) != _plan(Workload(runs=20, queries=5, repeats=1, seed=1))


def test_cli_prints_json() -> None:
    result = CliRunner().invoke(cli, ["bench", "tracking", "--quick", "--no-mlflow", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) >= KEYS
    assert out["ctml_write_s"] > 0
    assert out["write_speedup"] is None


def test_cli_table_says_how_to_install_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    result = CliRunner().invoke(cli, ["bench", "tracking", "--quick"])
    assert result.exit_code == 0, result.output
    assert "mlflow is not installed" in result.output
    assert INSTALL_HINT in result.output
    assert "write 20 runs" in result.output


def test_a_bad_workload_says_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match=r"The 'runs' parameter of Workload must be an int >= 1. Got 0 instead."):
        Workload(runs=0)
