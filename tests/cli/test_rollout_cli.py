"""``ctml models promote|rollback`` and ``ctml rollout status|step|abort`` over a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ctml.cli import cli
from ctml.config import Settings
from ctml.workspace import Workspace


def home(tmp_path: Path) -> Path:
    with Workspace.open(Settings.local(tmp_path / "ct", actor="ana")) as ws:
        for blob in (b"v1", b"v2", b"v3"):
            ws.registry.register("elec", blob)
        ws.registry.promote("elec", 1)
    return tmp_path / "ct"


def run(where: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(where), *args])
    return result.exit_code, result.output


def test_promote_starts_a_guarded_rollout_that_status_shows_and_abort_ends(tmp_path: Path) -> None:
    where = home(tmp_path)
    code, out = run(where, "models", "promote", "elec", "2", "--canary", "10,50", "--reason", "retrained")
    assert code == 0, out
    assert "shadow -> canary 10% -> canary 50% -> full" in out
    code, out = run(where, "rollout", "status", "elec", "--json")
    shown = json.loads(out)
    assert shown["state"]["status"] == "active"
    assert shown["stats"]["requests"] == 0
    code, out = run(where, "rollout", "status", "elec")
    assert "error_rate" in out
    assert "waiting" in out
    code, out = run(where, "rollout", "step", "elec")
    assert out.startswith("hold:")
    code, out = run(where, "models", "promote", "elec", "3")
    assert code != 0
    assert "already rolling out v2" in out
    code, out = run(where, "rollout", "abort", "elec", "--reason", "wrong data")
    assert "by hand: wrong data" in out
    with Workspace.open(Settings.local(where, actor="ana")) as ws:
        assert ws.meta.models.get_alias("elec", "champion").version == 1
        outcomes = [d.outcome for d in ws.meta.decisions.list(app="elec", kind="rollout")]
        assert outcomes == ["rollback", "start"]
        assert ws.meta.routes.get("elec").routes == {"champion": "champion", "canary": None, "shadow": None}  # type: ignore[union-attr]


def test_promote_now_and_rollback_move_the_alias(tmp_path: Path) -> None:
    where = home(tmp_path)
    code, out = run(where, "models", "promote", "elec", "3", "--now", "--reason", "hotfix")
    assert code == 0, out
    assert "v3" in out
    code, out = run(where, "models", "rollback", "elec", "--reason", "hotfix broke it")
    assert code == 0, out
    assert "-> v1" in out
    code, out = run(where, "rollout", "status", "nope")
    assert code != 0
    assert "never had a roll-out" in out
