"""A backtest over the first rows of the shipped Elec2 stream: every policy, through the server and controller."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from _elec2 import ELEC2_10K
from ctml.backtest import BacktestConfig, BacktestResult, render_backtest_html, run_backtest
from ctml.backtest._replay import _fired
from ctml.cli._backtest import backtest
from ctml.clock import SimulatedClock
from ctml.config import Settings
from ctml.workspace import Workspace

ROWS = 2400


@pytest.fixture(scope="module")
def elec2() -> Path:
    return ELEC2_10K


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def result(elec2: Path, kept: Path) -> BacktestResult:
    return run_backtest(elec2, "class", config=BacktestConfig(limit=ROWS), workdir=kept)


def test_every_policy_is_scored_on_the_rows_after_the_warm_up(result: BacktestResult) -> None:
    assert list(result.policies) == ["ctml", "never", "periodic", "always", "arf"]
    assert result.warmup_rows == ROWS // 10
    for name, policy in result.policies.items():
        assert policy.scores.shape == (ROWS - result.warmup_rows,), name
        assert 0.6 < policy.value < 0.98, (name, policy.value)
        assert policy.seconds > 0
    assert result.policies["never"].retrains == 0
    assert result.policies["periodic"].retrains > 30
    assert result.policies["always"].retrains == (ROWS - result.warmup_rows - 1) // result.window_rows
    assert result.policies["ctml"].via_server
    assert not result.policies["periodic"].via_server


def test_ctml_went_through_the_server_and_the_controller(result: BacktestResult, kept: Path) -> None:
    ctml = result.policies["ctml"]
    answered = ROWS - result.warmup_rows
    assert sum(ctml.details["routes"].values()) == answered  # type: ignore[union-attr]
    assert ctml.details["logged_predictions"] >= answered  # a shadow's copies are logged too
    ws = Workspace(Settings(home=kept, meta_url=f"sqlite:///{kept / 'meta.db'}", artifact_url=str(kept / "artifacts")),
                   clock=SimulatedClock(datetime(2030, 1, 1, tzinfo=UTC)))  # fmt: skip
    try:
        assert ws.meta.predictions.count("elec2") == ctml.details["logged_predictions"]
        labelled = ws.meta.predictions.labeled("elec2", limit=100_000)
        assert len(labelled) > 0
        triggers = ws.meta.decisions.list(app="elec2", kind="trigger", limit=1000)
        verdicts = [
            d for kind in ("gate", "tournament") for d in ws.meta.decisions.list(app="elec2", kind=kind, limit=1000)
        ]
        assert triggers  # the first model at least: a trigger and its verdict (a gate, or the first tournament)
        assert verdicts
        retrained = [d for d in triggers if d.outcome == "retrain"]
        assert len(retrained) == ctml.retrains + 1  # the first model's trigger is not counted as a retrain
    finally:
        ws.close()


def test_a_label_delay_longer_than_the_stream_holds_every_label_back(elec2: Path) -> None:
    config = BacktestConfig(limit=1200, label_delay=5000, policies=("ctml", "periodic", "always"))
    delayed = run_backtest(elec2, "class", config=config)
    # No label ever arrives: nothing to retrain on, no feedback, one ingested file (the warm-up).
    assert delayed.policies["periodic"].retrains == 0
    assert delayed.policies["always"].retrains == 0
    assert delayed.policies["ctml"].details["files_ingested"] == 1
    assert delayed.policies["periodic"].value == pytest.approx(delayed.policies["always"].value)


def test_json_shape_and_cli(elec2: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    out = CliRunner().invoke(
        backtest,
        ["--data", str(elec2), "--target", "class", "--limit", "1000", "--policy", "ctml", "--policy", "never",
         "--json", "--html", str(page)],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert set(doc["policies"]) == {"ctml", "never"}
    for policy in doc["policies"].values():
        assert {"accuracy", "retrains", "seconds", "promotions", "rollbacks", "retrain_reasons"} <= set(policy)
    assert "<svg" in page.read_text()


def test_html_has_a_chart_and_ctml_markers(result: BacktestResult) -> None:
    page = render_backtest_html(result)
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert page.count("<polyline") == 5
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")
    for marker in result.policies["ctml"].markers:
        assert f'class="marker {marker.kind}"' in page


def test_the_fired_rule_names_the_reason() -> None:
    rule = {
        "rule": "any",
        "fired": True,
        "evidence": {
            "rules": [
                {"rule": "drift", "fired": False, "evidence": {}},
                {"rule": "volume", "fired": True, "evidence": {}},
            ]
        },
    }
    assert _fired(rule) == "volume"
