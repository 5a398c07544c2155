"""``ctml demo`` end to end on a few short windows of the real Elec2 stream, in a temporary home."""

from __future__ import annotations

import io
import itertools
import json
import pickle
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ctml.cli import cli
from ctml.config import Settings
from ctml.demo import DemoConfig, DemoResult, compare, mcnemar_exact, run_demo, window_count
from ctml.demo._data import content_digest, cut_windows, load_stream, row_time, to_parquet
from ctml.drift import DatasetProfile
from ctml.errors import ConfigError
from ctml.meta import Node
from ctml.workspace import Workspace

SHORT = DemoConfig(windows=3, window_rows=1000)


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings.local(tmp_path / "home", actor="test")


@pytest.fixture
def result(home: Settings) -> DemoResult:
    return run_demo(home, SHORT)


# -- the data -------------------------------------------------------------------------------------------------


def test_the_stream_ships_with_the_package_compressed_and_small() -> None:
    data = resources.files("ctml.demo").joinpath("data")
    assert data.joinpath("elec2.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert len(data.joinpath("elec2.csv.gz").read_bytes()) < 3_000_000
    assert "Harries" in data.joinpath("README.md").read_text()


def test_the_stream_is_read_in_time_order() -> None:
    stream = load_stream()
    table = stream.table
    assert table.num_rows == 45_312
    assert table.column("class").to_pylist()[:4] == ["UP", "UP", "UP", "UP"]
    assert table.column("period").to_pylist()[:2] == [0.0, 0.021277]
    assert (row_time(0), row_time(table.num_rows - 1)) == ("1996-05-07T00:00", "1998-12-06T23:30")  # nominal


def test_windows_are_consecutive_and_cover_the_stream() -> None:
    windows = cut_windows(45_312, 4000)
    assert [w.index for w in windows] == list(range(12))
    assert windows[0].start == 0
    assert windows[-1].end == 45_312
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert cut_windows(45_312, 4000, limit=3)[-1].end == 12_000
    assert (window_count(DemoConfig()), window_count(SHORT)) == (12, 3)


def test_content_digest_survives_a_parquet_round_trip() -> None:
    part = load_stream().table.slice(1000, 500)
    again = pq.read_table(io.BytesIO(to_parquet(part)))
    assert content_digest(again) == content_digest(part)
    assert content_digest(part) != content_digest(load_stream().table.slice(1001, 500))


# -- the gate -------------------------------------------------------------------------------------------------


def test_gate_counts_discordant_pairs_and_needs_a_minimum_effect() -> None:
    truth = np.array([1] * 1000)
    champion = truth.copy()
    champion[:100] = 0
    challenger = truth.copy()
    challenger[50:140] = 0  # right on 50 rows the champion missed, wrong on 40 it got
    result = compare(challenger, champion, truth, alpha=0.05, min_effect=0.0)
    assert (result.challenger_only, result.champion_only) == (50, 40)
    assert result.effect == pytest.approx(0.01)
    assert result.p_value == pytest.approx(mcnemar_exact(50, 40))
    assert result.outcome == "reject"  # 50 vs 40 is not significant
    assert mcnemar_exact(0, 0) == 1.0

    champion[100:300] = 0
    strong = compare(challenger, champion, truth, alpha=0.05, min_effect=0.0)
    assert strong.outcome == "promote"
    assert compare(challenger, champion, truth, alpha=0.05, min_effect=0.5).outcome == "reject"


# -- one short replay -----------------------------------------------------------------------------------------


def test_registry_has_versions_and_a_champion(home: Settings, result: DemoResult) -> None:
    with Workspace.open(home) as ws:
        versions = ws.meta.models.versions("elec2")
        assert sorted(v.version for v in versions) == [1, 2, 3]
        assert all(v.flavor == "sklearn" and "holdout_accuracy" in v.metrics for v in versions)
        champion = ws.meta.models.get_alias("elec2", "champion")
        assert champion.version == result.champion_version
        model = pickle.loads(ws.registry.load_bytes("elec2", "champion"))
        assert set(model.predict(np.zeros((2, 7)))) <= {"UP", "DOWN"}
        history = ws.registry.history("elec2", "champion")
        assert len(history) == 1 + result.promotions
        assert all(move.reason for move in history)
        assert ws.meta.apps.get("elec2").spec is not None
        # Each version keeps the drift profile of its training rows: drift against it needs no raw data.
        reference = DatasetProfile.from_json(versions[0].meta["reference_profile"])  # type: ignore[arg-type]
        assert reference.rows == int(versions[0].meta["train_rows"][1]) - int(versions[0].meta["train_rows"][0])  # type: ignore[index,arg-type]
        assert "nswprice" in reference.columns


def test_gate_decisions_are_recorded_with_their_evidence(home: Settings, result: DemoResult) -> None:
    with Workspace.open(home) as ws:
        gates = ws.meta.decisions.list(app="elec2", kind="gate")
        assert len(gates) == 2
        assert len(ws.meta.decisions.list(app="elec2", kind="bootstrap")) == 1
        for decision in gates:
            evidence = decision.evidence
            assert decision.outcome in {"promote", "reject"}
            assert isinstance(evidence["challenger"], dict)
            assert isinstance(evidence["champion"], dict)
            assert isinstance(evidence["discordant"], dict)
            assert 0 <= float(evidence["challenger"]["accuracy"]) <= 1  # type: ignore[arg-type]
            assert 0 <= float(evidence["champion"]["accuracy"]) <= 1  # type: ignore[arg-type]
            only = evidence["discordant"]
            assert evidence["p_value"] == pytest.approx(
                mcnemar_exact(int(only["challenger_only"]), int(only["champion_only"]))  # type: ignore[arg-type]
            )
            assert decision.run_id is not None
            assert decision.version == evidence["challenger"]["version"]
    by_id = {w.decision_id: w for w in result.windows}
    assert {d.id for d in gates} == {w.decision_id for w in result.windows[1:]}
    assert all(by_id[d.id].decision == d.outcome for d in gates)


def test_windows_are_dataset_versions_with_lineage(home: Settings, result: DemoResult) -> None:
    with Workspace.open(home) as ws:
        versions = sorted(ws.meta.datasets.list("elec2"), key=lambda v: v.version)
        assert [v.rows for v in versions] == [1000, 1000, 1000]
        assert [v.source["rows"] for v in versions if v.source] == [[0, 1000], [1000, 2000], [2000, 3000]]
        assert versions[0].time_min == "1996-05-07T00:00"
        for parent, child in itertools.pairwise(versions):
            edges = ws.meta.lineage.upstream(Node("dataset_version", child.id), depth=1)
            assert [(e.src.id, e.relation) for e in edges] == [(parent.id, "derived")]
        stored = pq.read_table(io.BytesIO(ws.artifacts.get_bytes(versions[1].artifact_digest or "")))
        assert stored.num_rows == 1000
        assert content_digest(stored) == versions[1].digest

        up = ws.meta.lineage.upstream(Node("model_version", f"elec2/{result.champion_version}"), depth=2)
        run = Node("run", result.champion_run_id)
        assert any(e.src == run and e.relation == "produced" for e in up)
        assert any(e.dst == run and e.src.kind == "dataset_version" and e.relation == "input" for e in up)
    assert result.champion_datasets
    assert {d.id for d in result.champion_datasets} <= {v.id for v in versions}


def test_runs_are_tracked_and_static_is_compared_on_the_same_rows(home: Settings, result: DemoResult) -> None:
    with Workspace.open(home) as ws:
        runs = ws.meta.runs.search(app="elec2")
        assert sorted(r.kind for r in runs) == ["monitor", "train", "train", "train"]
        monitor = ws.meta.runs.get(result.monitor_run_id)
        assert monitor.status == "finished"
        assert {"live_accuracy", "static_accuracy", "overall_retrained_accuracy"} <= set(monitor.metrics)
        trains = [r for r in runs if r.kind == "train"]
        assert all(r.parent_id == monitor.id and r.seed == 0 and r.status == "finished" for r in trains)
        assert all(ws.meta.artifacts.list(run_id=r.id) for r in trains)
    comparison = result.comparison
    assert comparison.rows == 2000
    assert comparison.retrained_only + comparison.static_only <= comparison.rows
    live = [w.live_accuracy for w in result.windows[1:] if w.live_accuracy is not None]
    assert comparison.retrained_accuracy == pytest.approx(np.mean(live))  # equal windows: mean of means


def test_a_second_run_reuses_the_dataset_versions(home: Settings, result: DemoResult) -> None:
    again = run_demo(home, SHORT)
    assert [w.dataset_version_id for w in again.windows] == [w.dataset_version_id for w in result.windows]
    assert not any(w.dataset_reused for w in result.windows)
    assert all(w.dataset_reused for w in again.windows)
    assert again.monitor_run_id != result.monitor_run_id
    # Same rows, same seed: the same measurements (only the never-retrained model's version number differs).
    assert again.comparison == replace(result.comparison, static_version=again.comparison.static_version)
    with Workspace.open(home) as ws:
        assert len(ws.meta.datasets.list("elec2")) == 3
        assert len(ws.meta.models.versions("elec2")) == 6
        assert ws.meta.models.get_alias("elec2", "champion").version == again.champion_version


def test_bad_settings_are_refused_with_a_message(home: Settings) -> None:
    with pytest.raises(ConfigError, match="'windows' parameter of DemoConfig must be an int >= 2"):
        run_demo(home, DemoConfig(windows=1))
    with pytest.raises(ConfigError, match="needs at least 2"):
        run_demo(home, DemoConfig(window_rows=50_000))
    with pytest.raises(ConfigError, match="'model' parameter"):
        run_demo(home, DemoConfig(model="forest"))


# -- the command ----------------------------------------------------------------------------------------------


def test_cli_json_summary_parses(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--home", str(tmp_path / "h"), "demo", "--windows", "2", "--window-rows", "500", "--json"]
    outcome = runner.invoke(cli, args)
    assert outcome.exit_code == 0, outcome.output
    summary = json.loads(outcome.stdout)
    assert summary["app"] == "elec2"
    assert len(summary["windows"]) == 2
    assert summary["windows"][1]["gate"]["outcome"] in {"promote", "reject"}
    assert summary["comparison"]["rows"] == 500
    assert summary["champion_datasets"]
    assert any("lineage elec2@champion" in c and "--home" in c for c in summary["next_commands"])


def test_cli_prints_tables_and_next_commands(tmp_path: Path) -> None:
    home = tmp_path / "h"
    outcome = CliRunner().invoke(cli, ["--home", str(home), "demo", "--windows", "2", "--window-rows", "500"])
    assert outcome.exit_code == 0, outcome.output
    text = outcome.stdout
    assert "Never retrained vs continuously retrained" in text
    assert "Lineage of the champion" in text
    assert f"ctml --home {home} runs list --app elec2" in text
    listed = CliRunner().invoke(cli, ["--home", str(home), "runs", "list", "--app", "elec2", "--json"])
    assert len(json.loads(listed.stdout)) == 3


def test_cli_reports_bad_options_as_one_line(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(cli, ["--home", str(tmp_path / "h"), "demo", "--window-rows", "50000"])
    assert outcome.exit_code == 2
    assert "needs at least 2" in outcome.output
