"""App specs: the TOML example loads into the same objects as Python, and every bad spec says what is wrong."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctml.app import EXAMPLE, App, app_from_toml, load_app
from ctml.cli import cli
from ctml.data import FileSource
from ctml.errors import ConfigError
from ctml.evaluate import Gate
from ctml.rollout import RolloutPlan
from ctml.train import FineTune, SlidingWindow
from ctml.triggers import AnyOf, RetrainPolicy

GOOD = EXAMPLE.format(name="elec2", path="data/*.csv", target="class")


def test_the_example_loads_into_the_objects_a_python_spec_would_hold(tmp_path: Path) -> None:
    app = app_from_toml(GOOD, base=tmp_path)
    assert app.name == "elec2"
    assert app.target == "class"
    assert isinstance(app.source, FileSource)
    assert type(app.model).__name__ == "HistGradientBoostingClassifier"
    assert app.model.get_params()["max_iter"] == 100
    assert app.training == SlidingWindow(rows=20000)
    assert app.gate == Gate(
        metric="accuracy", alpha=0.05, min_effect=0.002, slice_margin=0.02, floors={"accuracy": 0.55}
    )
    assert isinstance(app.policy.rule, AnyOf)
    assert [r.name for r in app.policy.rule.rules] == ["drift", "performance", "volume", "schedule", "manual", "code"]
    assert app.policy.cooldown == timedelta(hours=6)
    assert app.rollout == RolloutPlan(shadow_s=600, canary=(5, 25, 50), bake_s=1800, bake_requests=500,
                                      max_error_rate=0.01, max_metric_drop=0.02)  # fmt: skip


def test_a_python_spec_validates_too() -> None:
    from sklearn.linear_model import LogisticRegression

    source = FileSource("data/*.csv")
    app = App("churn", source=source, target="y", model=LogisticRegression(), training=FineTune(rows=500))
    assert isinstance(app.policy, RetrainPolicy)
    with pytest.raises(ConfigError, match="must be an estimator"):
        App("churn", source=source, target="y", model="logistic")
    with pytest.raises(ConfigError, match="name must be 1-64 lowercase"):
        App("Churn App", source=source, target="y", model=LogisticRegression())
    with pytest.raises(ConfigError, match="must not include the target"):
        App("churn", source=source, target="y", model=LogisticRegression(), features=("a", "y"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("[gate]", "[gates]"), r"unknown table\(s\) gates"),
        (lambda t: t.replace('target = "class"', "label = 1"), r"unknown key\(s\) in \[app\]: label"),
        (lambda t: t.replace("sklearn.ensemble.HistGradientBoostingClassifier", "os.system"), "not from a library"),
        (lambda t: t.replace("max_iter = 100", "max_iterations = 100"), "params do not fit"),
        (lambda t: t.replace('strategy = "sliding_window"', 'strategy = "nightly"'), "strategy must be one of"),
        (lambda t: t.replace('cooldown = "6h"', 'cooldown = "six hours"'), "duration like"),
        (lambda t: t.replace('"manual",', '"sometimes",'), "cannot read: 'sometimes'"),
        (lambda t: t.replace("alpha = 0.05", "alpha = 2"), "The 'alpha' parameter of Gate"),
        (lambda t: t.replace("canary = [5, 25, 50]", "canary = [50, 5]"), "increasing percentages"),
        (lambda t: t.replace("[source]", "[source]\nurl = 'postgresql://x/y'"), "either 'path'"),
        (lambda t: t + "\n[app", "is not valid TOML"),
    ],
)
def test_a_bad_spec_names_the_table_and_the_key(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        app_from_toml(edit(GOOD), where="app.toml")


def test_init_writes_a_spec_that_loads_and_points_at_real_data(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(cli, ["init", str(tmp_path / "proj")])
    assert done.exit_code == 0, done.output
    app = load_app(tmp_path / "proj" / "app.toml")
    assert app.target == "cnt"
    assert app.features is not None
    assert "casual" not in app.features
    assert "registered" not in app.features
    assert app.gate.metric == "mae"
    assert (tmp_path / "proj" / "data" / "bike_sharing_hourly.csv.gz").stat().st_size > 200_000
    shown = runner.invoke(cli, ["app", "show", str(tmp_path / "proj" / "app.toml")])
    assert shown.exit_code == 0
    assert "canary 25%" in shown.output
    again = runner.invoke(cli, ["init", str(tmp_path / "proj")])
    assert again.exit_code != 0
    assert "already exists" in again.output
    missing = runner.invoke(cli, ["app", "show", str(tmp_path / "nowhere.toml")])
    assert missing.exit_code != 0
    assert "ctml init" in missing.output
