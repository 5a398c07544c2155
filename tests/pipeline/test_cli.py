"""``ctml run MODULE:PIPELINE``: params, --json, resume, and one-line errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctml.cli import cli
from ctml.cli._pipeline import run

FLOW = """
from ctml.pipeline import Pipeline, step

@step
def numbers(n: int = 3) -> list[int]:
    return list(range(n))

@step
def total(numbers: list[int], label: str = "sum") -> str:
    return f"{label}={sum(numbers)}"

@step
def square(numbers: int) -> int:
    return numbers * numbers

flow = Pipeline([numbers, total, square.map(over="numbers")], name="sums")
not_a_pipeline = 3
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if "run" not in cli.commands:
        cli.add_command(run)  # the CLI group registers it in ctml.cli._main
    (tmp_path / "cli_flows_mod.py").write_text(textwrap.dedent(FLOW))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "ct"


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_prints_steps_and_json(home: Path) -> None:
    code, out, _ = invoke(home, "run", "cli_flows_mod:flow", "--param", "n=4", "--param", "label=total", "--json")
    assert code == 0
    first = json.loads(out)
    assert first["status"] == "finished"
    assert first["cached"] == []
    code, out, _ = invoke(home, "run", "cli_flows_mod:flow", "--param", "n=4", "--param", "label=total")
    assert code == 0
    assert "numbers" in out
    assert "hit" in out
    assert "finished" in out
    code, out, _ = invoke(home, "runs", "show", first["run_id"])
    assert code == 0
    assert "Steps" in out
    assert "total" in out
    code, out, _ = invoke(home, "run", "cli_flows_mod:flow", "--resume", first["run_id"], "--json")
    assert code == 0
    assert json.loads(out)["outputs"] == first["outputs"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cli_flows_mod"], "MODULE:PIPELINE"),
        (["nowhere_mod:flow"], "Cannot import module 'nowhere_mod'"),
        (["cli_flows_mod:not_a_pipeline"], "is a int"),
        (["cli_flows_mod:flow", "--param", "m=1"], "Unknown pipeline param 'm'"),
        (["cli_flows_mod:flow", "--param", "oops"], "NAME=VALUE"),
    ],
)
def test_errors_are_one_line(home: Path, args: list[str], message: str) -> None:
    code, _, err = invoke(home, "run", *args)
    assert code == 2
    assert err.startswith("error: ")
    assert message in err
