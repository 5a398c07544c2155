"""The CLI over a populated store: readable tables, --json, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctml.cli import cli
from ctml.config import Settings
from ctml.meta import Metric
from ctml.workspace import Workspace


@pytest.fixture
def home(tmp_path: Path) -> Path:
    settings = Settings.local(tmp_path / "ct", actor="ana")
    with Workspace.open(settings) as ws:
        version, _ = ws.meta.datasets.add_version("elec2", "d" * 64, 100)
        with ws.tracker.start_run("train", app="elec2", params={"C": 1.0}, seed=7, capture=False) as run:
            run.log_batch(metrics=[Metric("accuracy", 0.7, 0), Metric("accuracy", 0.8, 1)])
            run.log_artifact("model.pkl", b"weights")
        ws.meta.lineage.add(ws_node("dataset_version", version.id), ws_node("run", run.id), "input")
        v1 = ws.registry.register("elec2", b"m1", app="elec2", run_id=run.id, datasets=[version.id])
        ws.registry.register("elec2", b"m2", app="elec2", run_id=run.id)
        ws.registry.promote("elec2", v1.version, reason="first model")
        ws.meta.decisions.record("gate", "promote", "v1 beat the floor", {"accuracy": 0.8}, app="elec2", run_id=run.id)
    return tmp_path / "ct"


def ws_node(kind: str, ident: str):  # type: ignore[no-untyped-def]
    from ctml.meta import Node

    return Node(kind, ident)


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_the_verbs() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for verb in ("runs", "models", "lineage", "demo", "bench", "db"):
        assert verb in result.stdout


def test_runs_list_and_show(home: Path) -> None:
    code, out, _ = invoke(home, "runs", "list")
    assert code == 0
    assert "train" in out
    assert "accuracy=0.8" in out
    code, out, _ = invoke(home, "runs", "list", "--json", "--filter", "metrics.accuracy > 0.75")
    assert code == 0
    runs = json.loads(out)
    assert len(runs) == 1
    assert runs[0]["params"] == {"C": "1.0"}
    assert runs[0]["seed"] == 7
    code, out, _ = invoke(home, "runs", "list", "--json", "--filter", "metrics.accuracy > 0.9")
    assert json.loads(out) == []
    run_id = runs[0]["id"]
    code, out, _ = invoke(home, "runs", "show", run_id)
    assert code == 0
    assert "model.pkl" in out
    assert "v1 beat the floor" in out
    assert "model_version:elec2/1" in out
    code, out, _ = invoke(home, "runs", "show", run_id, "--json")
    shown = json.loads(out)
    assert shown["run"]["metrics"] == {"accuracy": 0.8}
    assert shown["decisions"][0]["outcome"] == "promote"
    assert "model_version:elec2/2" in shown["outputs"]


def test_models_list_show_alias(home: Path) -> None:
    code, out, _ = invoke(home, "models", "list", "--json")
    assert code == 0
    assert json.loads(out)[0]["aliases"] == {"champion": 1}
    code, out, _ = invoke(
        home, "models", "alias", "elec2", "champion", "2", "--reason", "better", "--expect-revision", "1"
    )
    assert code == 0
    assert "v2" in out
    code, out, err = invoke(home, "models", "alias", "elec2", "champion", "1", "--expect-revision", "1")
    assert code == 2
    assert "revision 2" in err
    assert "Traceback" not in err
    code, out, _ = invoke(home, "models", "show", "elec2")
    assert "alias history" in out
    assert "better" in out
    assert "v1 -> v2" in out
    code, out, _ = invoke(home, "models", "show", "elec2", "--json")
    history = json.loads(out)["alias_history"]
    assert [h["to_version"] for h in history] == [2, 1]


def test_lineage_both_ways(home: Path) -> None:
    code, out, _ = invoke(home, "lineage", "elec2@champion", "--json")
    assert code == 0
    edges = json.loads(out)["edges"]
    kinds = {e["src"]["kind"] for e in edges}
    assert {"run", "dataset_version"} <= kinds
    dataset_id = next(e["src"]["id"] for e in edges if e["src"]["kind"] == "dataset_version")
    code, out, _ = invoke(home, "lineage", f"dataset:{dataset_id}", "--down", "--json")
    reached = {e["dst"]["id"] for e in json.loads(out)["edges"]}
    assert {"elec2/1", "elec2/2"} <= reached


def test_db_status(home: Path) -> None:
    code, out, _ = invoke(home, "db", "status", "--json")
    status = json.loads(out)
    assert code == 0
    assert status["up_to_date"] is True


def test_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--meta-url", "mysql://x/y", "runs", "list"])
    assert result.exit_code == 2
    assert "Unknown metadata store URL scheme 'mysql'" in result.stderr
    assert "Traceback" not in result.stderr
    code, _, err = invoke(tmp_path / "empty", "runs", "show", "NOPE")
    assert code == 2
    assert "No run with id 'NOPE'" in err
    code, _, err = invoke(tmp_path / "empty", "runs", "list", "--filter", "metrics.acc >> 1")
    assert code == 2
    assert "Cannot read the filter clause" in err


def test_names_with_brackets_print_as_themselves(tmp_path: Path) -> None:
    with Workspace.open(Settings.local(tmp_path / "ct")) as ws:
        run = ws.tracker.start_run("fan-out", capture=False)
        step_id = ws.meta.steps.start(run.id, "fit[paris]")
        ws.meta.steps.finish(step_id)
        run.finish()
    code, out, _ = invoke(tmp_path / "ct", "runs", "show", run.id)
    assert code == 0
    assert "fit[paris]" in out
    assert "fit\\[paris]" not in out


def test_runs_show_lists_a_gate_verdict_check_by_check(tmp_path: Path) -> None:
    import numpy as np

    from ctml.evaluate import Gate, record_verdict

    settings = Settings.local(tmp_path / "ct", actor="ana")
    truth = np.array([0, 1] * 100)
    champion = truth.copy()
    champion[:40] = 1 - champion[:40]
    challenger = truth.copy()
    challenger[:5] = 1 - challenger[:5]
    verdict = Gate(max_latency_ms=25).judge(truth, challenger, champion, challenger_latency_ms=40.0)
    with Workspace.open(settings) as ws:
        with ws.tracker.start_run("retrain", app="elec2", capture=False) as run:
            pass
        record_verdict(ws.meta, verdict, app="elec2", run_id=run.id, actor="ana")
    code, out, _ = invoke(tmp_path / "ct", "runs", "show", run.id)
    assert code == 0
    assert verdict.outcome == "reject"
    assert "Gate checks (reject" in out
    assert "latency" in out
    assert "failed" in out
    assert "significance" in out
