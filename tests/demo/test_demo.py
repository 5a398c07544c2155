"""``ctml demo`` end to end: the quick replay (four months of hourly bike rentals) through the real product, in a
temporary home, and the story checked from what the workspace stored, not from what the demo printed."""

from __future__ import annotations

import gzip
import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ctml.cli import cli
from ctml.config import Settings
from ctml.demo import FEATURES, SHA256, DemoConfig, DemoResult, load_stream, run_demo
from ctml.errors import ConfigError
from ctml.workspace import Workspace


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.local(tmp_path_factory.mktemp("demo") / "home", actor="test")


@pytest.fixture(scope="module")
def result(home: Settings) -> DemoResult:
    return run_demo(home, DemoConfig.quick())


# -- the data -------------------------------------------------------------------------------------------------


def test_the_stream_ships_compressed_small_and_credited() -> None:
    data = resources.files("ctml.demo").joinpath("data")
    packed = data.joinpath("bike_sharing_hourly.csv.gz").read_bytes()
    assert packed[:2] == b"\x1f\x8b"
    assert len(packed) < 3_000_000
    readme = data.joinpath("README.md").read_text()
    assert "CC BY 4.0" in readme
    assert "Fanaee-T" in readme
    assert "Event labeling combining ensemble detectors and background knowledge" in readme
    assert SHA256 in readme
    assert not data.joinpath("elec2.csv.gz").is_file()


def test_the_stream_is_read_in_time_order_without_the_leaking_columns() -> None:
    stream = load_stream()
    assert stream.rows == 17_379
    assert (stream.target, stream.task) == ("cnt", "regression")
    assert "casual" not in stream.table.column_names
    assert "registered" not in stream.table.column_names
    assert stream.features == FEATURES
    assert "instant" not in stream.features
    assert np.all(np.diff(stream.times) > 0)
    assert stream.y[:3].tolist() == [16.0, 40.0, 32.0]
    assert stream.time_of(1).isoformat() == "2011-01-01T01:00:00+00:00"
    assert load_stream(limit=500).rows == 500


def test_a_damaged_data_file_is_refused_with_a_clear_message(tmp_path: Path, home: Settings) -> None:
    raw = gzip.decompress(resources.files("ctml.demo").joinpath("data", "bike_sharing_hourly.csv.gz").read_bytes())
    changed = tmp_path / "changed.csv.gz"
    changed.write_bytes(gzip.compress(raw.replace(b",16\n", b",17\n", 1)))
    with pytest.raises(ConfigError, match=r"has sha256 [0-9a-f]{64} once decompressed, expected " + SHA256):
        load_stream(changed)
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(gzip.compress(raw)[:5000])
    with pytest.raises(ConfigError, match="cannot be read as gzip"):
        load_stream(truncated)
    other = Settings.local(tmp_path / "other")
    with pytest.raises(ConfigError, match="Reinstall ctml"):
        run_demo(other, DemoConfig.quick(), data=changed)
    assert not (tmp_path / "other" / "demo").exists()  # refused before anything was written


def test_bad_settings_are_refused_with_a_message() -> None:
    with pytest.raises(ConfigError, match=r"'window_rows' parameter of DemoConfig must be an int >= 24\. Got 5"):
        DemoConfig(window_rows=5)
    with pytest.raises(ConfigError, match="'rows' parameter of DemoConfig must be None or an int >= warmup_rows"):
        DemoConfig(rows=500)
    with pytest.raises(ConfigError, match="'request_rows' parameter of DemoConfig must be at most 1000"):
        DemoConfig(request_rows=5000)


# -- the story, from the stored records -----------------------------------------------------------------------


def test_a_retrain_fired_for_a_monitored_reason(home: Settings, result: DemoResult) -> None:
    with Workspace.open(home) as ws:
        triggers = ws.meta.decisions.list(app=result.app, kind="trigger", limit=1000)
    retrains = [d for d in triggers if d.outcome == "retrain"]
    first = [d for d in retrains if d.summary.startswith("no champion yet")]
    later = [d for d in retrains if d not in first]
    assert len(first) == 1
    assert later
    assert len(later) == result.retrains
    # a retrain the monitor caused: features drifted against the champion's training data, or its live MAE rose
    config = DemoConfig.quick()
    monitored = []
    for decision in later:
        rules = decision.evidence["rule"]["evidence"]["rules"]  # type: ignore[index,call-overload]
        fired = {r["rule"]: r for r in rules if r["fired"]}
        assert fired, decision.summary
        assert all(r["reason"] in decision.summary for r in fired.values())
        if "drift" in fired:
            evidence = fired["drift"]["evidence"]
            assert evidence["drift_score"] >= config.drift_share
            assert evidence["drifted_features"]
            assert set(evidence["drifted_features"]) <= set(FEATURES)
            monitored.append(decision)
        if "performance" in fired:
            assert fired["performance"]["evidence"]["drop"] > config.max_drop
            monitored.append(decision)
    assert monitored, [d.summary for d in later]


def test_the_gate_judged_challenger_against_champion(home: Settings, result: DemoResult) -> None:
    with Workspace.open(home) as ws:
        gates = ws.meta.decisions.list(app=result.app, kind="gate", limit=1000)
    assert {d.outcome for d in gates} <= {"promote", "reject"}
    assert sum(result.gate_verdicts.values()) == len(gates) == 1 + result.retrains
    judged = [d for d in gates if "champion" in d.summary]
    assert judged, "no challenger was compared with a champion"
    evidence = judged[0].evidence
    assert evidence["metric"] == "mae"
    assert judged[0].version is not None
    assert judged[0].run_id is not None


def test_a_roll_out_went_shadow_canary_full_and_moved_the_champion(home: Settings, result: DemoResult) -> None:
    with Workspace.open(home) as ws:
        rollouts = ws.meta.decisions.list(app=result.app, kind="rollout", limit=1000)
        history = ws.registry.history(result.model, "champion")
        routes = {r.prediction.route for r in ws.meta.predictions.labeled(result.app, limit=100_000)}
    steps = [(d.version, d.outcome, d.summary) for d in sorted(rollouts, key=lambda d: (d.created_at, d.id))]
    promoted = result.champion_version
    mine = [(outcome, summary) for version, outcome, summary in steps if version == promoted]
    assert [o for o, _ in mine] == ["start", "advance", "advance", "complete"]
    assert "now canary 25%" in mine[1][1]
    assert "now full" in mine[2][1]
    moves = sorted(history, key=lambda m: m.revision)
    assert (moves[0].from_version, moves[0].to_version) == (None, result.static_version)
    assert moves[-1].to_version == promoted != result.static_version
    assert "reached full traffic" in moves[-1].reason
    assert result.promotions == len(moves) - 1 >= 1
    assert {"champion", "shadow", "canary"} <= routes


def test_the_server_logged_every_prediction_and_got_the_labels(home: Settings, result: DemoResult) -> None:
    with Workspace.open(home) as ws:
        logged = ws.meta.predictions.labeled(result.app, limit=100_000)
    answered = [r for r in logged if r.prediction.route in ("champion", "canary")]
    assert len(answered) == result.scored_rows  # one answer per replayed hour, nothing dropped
    labelled = [r for r in answered if r.label is not None]
    assert len(labelled) == result.scored_rows - DemoConfig.quick().label_delay_rows  # the last day is not due
    assert result.predictions_logged == len(logged)
    assert result.live_mae < result.static_mae  # the loop beat the model it started from, on the same hours


def test_the_narration_follows_the_loop(result: DemoResult) -> None:
    kinds = [e.kind for e in result.events]
    assert kinds[:5] == ["ingest", "first", "train", "gate", "rollout"]
    server = next(e for e in result.events if e.kind == "server")
    assert re.fullmatch(r"server listening on http://127\.0\.0\.1:\d+", server.message)
    for kind in ("drift", "retrain", "gate", "rollout", "promoted", "report"):
        assert kind in kinds, kind
    drift = next(e for e in result.events if e.kind == "drift")
    assert re.fullmatch(r"drift detected in features [a-z]+(, [a-z]+)* \(score \d+% of features\)", drift.message)
    windows = [e for e in result.events if e.kind == "window"]
    assert len(windows) == result.windows
    assert windows[-1].evidence["index"] == windows[-1].evidence["total"] == result.windows
    times = [e.at for e in result.events]
    assert times == sorted(times)


def test_the_report_is_written_where_the_dashboard_lists_it(home: Settings, result: DemoResult) -> None:
    assert result.report == home.home / "reports" / f"demo-{result.app}.html"
    page = result.report.read_text()
    assert "<svg" in page
    assert 'class="marker retrain"' in page
    assert 'class="marker complete"' in page
    assert "What the loop did" in page
    document = json.loads(result.report.with_suffix(".json").read_text())
    assert set(document["policies"]) == {"ctml", "never"}
    assert document["policies"]["ctml"]["mae"] == pytest.approx(result.live_mae, abs=1e-6)
    assert document["policies"]["never"]["mae"] == pytest.approx(result.static_mae, abs=1e-6)
    with Workspace.open(home) as ws:
        assert ws.meta.apps.get(result.app).spec["demo"] is True  # type: ignore[index]


# -- the command, run twice more in the same home -------------------------------------------------------------


def test_cli_narrates_and_a_second_run_gets_a_fresh_app(home: Settings, result: DemoResult) -> None:
    outcome = CliRunner().invoke(cli, ["--home", str(home.home), "demo", "--quick"])
    assert outcome.exit_code == 0, outcome.output
    text = outcome.stdout
    assert re.search(r"server listening on http://127\.0\.0\.1:\d+", text)
    for line in ("retrain fired (", "gate: promote v", "now canary 25%; guards ok", "(replacing v1)",
                 "roll-out complete"):  # fmt: skip
        assert line in text, line
    assert f"report:    {home.home / 'reports' / 'demo-bikes-2.html'}" in text
    assert f"workspace: {home.home}" in text
    assert f"ctml --home {home.home} runs list --app bikes-2" in text
    with Workspace.open(home) as ws:
        assert {a.name for a in ws.meta.apps.list()} >= {result.app, "bikes-2"}
        # the first run's records are untouched by the second
        assert ws.registry.resolve(result.model, "champion").version == result.champion_version


def test_cli_json_summary(home: Settings, result: DemoResult) -> None:
    outcome = CliRunner().invoke(cli, ["--home", str(home.home), "demo", "--quick", "--json"])
    assert outcome.exit_code == 0, outcome.output
    summary = json.loads(outcome.stdout)
    assert summary["app"] not in (result.app, "bikes-2")
    assert summary["live_mae"] == pytest.approx(result.live_mae)  # same rows, same seed, same story
    assert summary["retrains"] == result.retrains
    assert Path(summary["report"]).is_file()
    assert any(c.endswith(f"runs list --app {summary['app']}") for c in summary["next_commands"])


def test_a_name_taken_by_anything_of_the_workspace_is_skipped(tmp_path: Path) -> None:
    from ctml.demo._run import _free_name

    with Workspace.open(Settings.local(tmp_path / "h")) as ws:
        assert _free_name(ws) == "bikes"
        ws.meta.apps.put("bikes")
        ws.meta.controller.transition("bikes-2", {}, expected_revision=0)
        assert _free_name(ws) == "bikes-3"
