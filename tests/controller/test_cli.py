"""``ctml init`` then ``ctml controller --once``: the example spec goes from no model to a live champion."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ctml.cli import cli
from ctml.config import Settings
from ctml.workspace import Workspace


def test_one_cycle_on_the_init_example_makes_a_champion(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    done = runner.invoke(cli, ["--home", ".ctml", "controller", "--app", "app.toml", "--once"])
    assert done.exit_code == 0, done.output
    assert "gate=promote" in done.output
    assert "rollout=start" in done.output
    with Workspace.open(Settings.local(tmp_path / ".ctml", actor="test")) as ws:
        assert ws.meta.models.get_alias("elec2", "champion").version == 1
        kinds = {d.kind for d in ws.meta.decisions.list(app="elec2")}
        assert {"gate", "rollout"} <= kinds
