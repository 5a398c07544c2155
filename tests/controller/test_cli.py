"""``ctml init`` then ``ctml controller --once``: the example spec goes from no model to a live champion;
``ctml events publish`` and ``ctml controller --bus``: a retrain asked for from outside is acted on once."""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow as pa
from click.testing import CliRunner

from ctml.cli import cli
from ctml.cli._events import events
from ctml.cli._main import _Group
from ctml.config import Settings
from ctml.workspace import Workspace

from .conftest import write_part


def test_one_cycle_on_the_init_example_makes_a_champion(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    done = runner.invoke(cli, ["--home", ".ctml", "controller", "--app", "app.toml", "--once"])
    assert done.exit_code == 0, done.output
    assert "gate=promote" in done.output
    assert "rollout=start" in done.output
    with Workspace.open(Settings.local(tmp_path / ".ctml", actor="test")) as ws:
        assert ws.meta.models.get_alias("bikes", "champion").version == 1
        kinds = {d.kind for d in ws.meta.decisions.list(app="bikes")}
        assert {"gate", "rollout"} <= kinds


APP_TOML = """
[app]
name = "elec2"
target = "class"
time = "date"
holdout = 0.2
seed = 3

[source]
path = "data/*.csv"

[model]
class = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 200 }

[training]
strategy = "sliding_window"
rows = 5000

[gate]
min_effect = 0.0
floors = { accuracy = 0.55 }

[triggers]
any = ["manual"]
cooldown = "0s"

[rollout]
shadow = "0s"
canary = [50]
bake = "0s"
bake_requests = 0
"""


def _events_cli() -> click.Group:
    """``ctml events`` under the CLI's error boundary (what registering it in ``ctml`` gives)."""
    root = _Group("ctml")
    root.add_command(events)
    return root


def test_events_publish_and_a_controller_reading_the_bus(tmp_path: Path, elec2: pa.Table) -> None:
    write_part(tmp_path / "data", elec2, 0)
    spec = tmp_path / "app.toml"
    spec.write_text(APP_TOML)
    home = tmp_path / ".ctml"
    runner = CliRunner()
    controller = ["--home", str(home), "controller", "--app", str(spec), "--once"]
    first = runner.invoke(cli, controller)
    assert first.exit_code == 0, first.output
    assert "gate=promote" in first.output

    url = f"sqlite:///{home / 'meta.db'}"  # the SQL outbox in the metadata database
    ask = ["events", "publish", "--bus", url, "retrain", "--app", "elec2", "--id", "ask-7",
           "--payload", '{"actor": "carol", "reason": "the labels were fixed"}']  # fmt: skip
    for _ in range(2):  # a retried publish is the same event
        published = runner.invoke(_events_cli(), ask)
        assert published.exit_code == 0, published.output
        assert published.output.strip() == "ask-7"
    write_part(tmp_path / "data", elec2, 1)
    done = runner.invoke(cli, [*controller, "--bus", url, "--interval", "1s"])
    assert done.exit_code == 0, done.output
    assert "event=retrain: retrain requested by carol: the labels were fixed" in done.output
    assert "trigger=retrain" in done.output
    assert "train=registered" in done.output
    again = runner.invoke(cli, [*controller, "--bus", url])
    assert "event=" not in again.output  # acked: not delivered again
    assert "train=" not in again.output  # and the request is handled
    with Workspace.open(Settings.local(home, actor="test")) as ws:
        assert len(ws.meta.models.versions("elec2")) == 2


def test_events_publish_refuses_bad_input_with_a_message(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    with Workspace.open(Settings.local(tmp_path, actor="test")):
        pass  # the schema, with the bus tables
    base = ["events", "publish", "--bus", url]
    cases = {
        ("retrain", "--app", "elec2", "--payload", "[1, 2]"): "--payload must be a JSON object",
        ("retrain", "--app", "elec2", "--payload", "{oops"): "--payload is not valid JSON",
        ("new data", "--app", "elec2"): "An event topic must be 1-64 letters",
        ("retrain", "--app", "elec2", "--id", "no spaces please"): "An event id must be",
    }
    for args, message in cases.items():
        result = runner.invoke(_events_cli(), [*base, *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
    missing = runner.invoke(_events_cli(), ["events", "publish", "--bus", url, "retrain"])
    assert missing.exit_code == 2
    assert "Missing option '--app'" in missing.output
    unknown = runner.invoke(_events_cli(), ["events", "publish", "--bus", "kafka://x:9092", "retrain", "--app", "a"])
    assert unknown.exit_code == 2
    assert "Unknown event bus URL scheme 'kafka'" in unknown.output


def test_controller_refuses_a_bad_group(tmp_path: Path, elec2: pa.Table) -> None:
    write_part(tmp_path / "data", elec2, 0)
    spec = tmp_path / "app.toml"
    spec.write_text(APP_TOML)
    url = f"sqlite:///{tmp_path / '.ctml' / 'meta.db'}"
    with Workspace.open(Settings.local(tmp_path / ".ctml", actor="test")):
        pass
    args = ["--home", str(tmp_path / ".ctml"), "controller", "--app", str(spec), "--once", "--bus", url]
    result = CliRunner().invoke(cli, [*args, "--group", "two words"])
    assert result.exit_code == 2
    assert "consumer group must be 1-64 letters" in result.output
