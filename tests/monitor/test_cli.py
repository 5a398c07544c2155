"""``ctml monitor APP``: tables and JSON from a real workspace."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from ctml.cli._context import make_state
from ctml.cli._monitor import monitor
from ctml.clock import WallClock
from ctml.config import Settings
from ctml.workspace import Workspace

from .conftest import APP, MODEL


def test_monitor_prints_a_report_and_json(tmp_path: Path) -> None:
    now = WallClock().now()
    with Workspace.open(Settings.local(tmp_path)) as ws:
        ws.registry.register(MODEL, b"model", app=APP)
        ws.registry.promote(MODEL, 1)
        ws.meta.predictions.append(
            [
                {
                    "id": "01JD3H2K5Q8X9Z7Y6W5V4T3S2R", "app": APP, "model": MODEL, "version": 1,
                    "route": "champion", "rows": 2, "inputs": json.dumps({"rows": [{"x": 1.0}, {"x": 2.0}]}),
                    "output": json.dumps({"predictions": ["UP", "DOWN"], "probabilities": [[0.2, 0.8], [0.9, 0.1]]}),
                    "latency_ms": 3.0, "at_ms": int((now - timedelta(minutes=5)).timestamp() * 1000),
                }
            ]
        )  # fmt: skip
        ws.meta.predictions.add_feedback(APP, {"01JD3H2K5Q8X9Z7Y6W5V4T3S2R-0": ('"UP"', None)})
    runner = CliRunner()
    result = runner.invoke(monitor, [APP, "--json"], obj=make_state(str(tmp_path), None, None))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["rows"], report["version"], report["performance"]["labelled"]) == (2, 1, 1)
    assert report["performance"]["value"] == 1.0
    result = runner.invoke(
        monitor, [APP, "--window", "2h", "--label-delay", "1h"], obj=make_state(str(tmp_path), None, None)
    )
    assert result.exit_code == 0, result.output
    assert "Monitor elec" in result.output
    assert "accuracy (due window)" in result.output
    assert "no reference_profile" in result.output
    bad = runner.invoke(monitor, [APP, "--window", "soon"], obj=make_state(str(tmp_path), None, None))
    assert bad.exit_code == 2
    assert "duration" in bad.output
