"""``ctml init``: write a working app spec (``app.toml``) and the data it points at, ready to run."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import click

from ctml.cli._output import table
from ctml.errors import ConfigError

__all__ = ["init"]


_DATA = "bike_sharing_hourly.csv.gz"
_FEATURES = ("season", "yr", "mnth", "hr", "holiday", "weekday", "workingday", "weathersit", "temp", "atemp",
             "hum", "windspeed")  # fmt: skip
# The template is a classifier's; the shipped stream is a regression (rentals per hour), so these lines change.
_EDITS = (
    ('# features = ["a", "b"]       # default: every column but the target and time',
     f"features = {list(_FEATURES)!r}  # not casual/registered: they add up to cnt".replace("'", '"')),
    ("sklearn.ensemble.HistGradientBoostingClassifier", "sklearn.ensemble.HistGradientBoostingRegressor"),
    ('metric = "accuracy"', 'metric = "mae"               # mean absolute error: lower is better'),
    ("min_effect = 0.002            # promote only a real gain of at least 0.2 points",
     "min_effect = 1.0              # promote only a gain of at least 1 rental an hour"),
    ("slice_margin = 0.02           # and no slice worse by more than 2 points",
     "slice_margin = 5.0            # and no slice worse by more than 5 rentals an hour"),
    ("floors = { accuracy = 0.55 }  # a first model must reach these",
     "floors = { mae = 150.0 }      # a first model must reach these (predicting the mean scores ~160)"),
    ("max_metric_drop = 0.02", "max_metric_drop = 20.0        # live MAE may not rise by more than 20 vs the champion"),
)  # fmt: skip


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--name", default="bikes", show_default=True, help="The app's name.")
@click.option("--force", is_flag=True, help="Overwrite an existing app.toml (the data file is never overwritten).")
def init(folder: Path, name: str, force: bool) -> None:
    """Write FOLDER/app.toml, a complete app spec, and FOLDER/data/bike_sharing_hourly.csv.gz, the real
    drifting stream shipped with ctml (17,379 hours of Capital Bikeshare rentals in Washington DC, 2011-2012,
    CC BY 4.0; the label `cnt` is the number of rentals in the hour, and it grows 63% from 2011 to 2012). Edit
    the spec for your own data: every table is commented.
    """
    from ctml.app import EXAMPLE, app_from_toml

    spec = folder / "app.toml"
    if spec.exists() and not force:
        raise ConfigError(f"{spec} already exists; pass --force to overwrite it, or choose another folder.")
    text = EXAMPLE.format(name=name, path="data/*.csv.gz", target="cnt")
    for old, new in _EDITS:
        if old not in text:
            raise AssertionError(f"the app template changed: {old!r} is gone")
        text = text.replace(old, new)
    app_from_toml(text, base=folder)  # the example must load: a broken template would fail here, not later
    data = folder / "data" / _DATA
    data.parent.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        shipped = resources.files("ctml.demo").joinpath("data", _DATA)
        with resources.as_file(shipped) as source:
            shutil.copyfile(source, data)
    spec.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {spec} (app {name!r}) and {data}.")
    click.echo(f"Check it with `ctml app show {spec}`; every table in it is commented.")


@click.group("app")
def app() -> None:
    """App specs: read and check one."""


@app.command("show")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path), default="app.toml")
def show(spec: Path) -> None:
    """Load SPEC (default app.toml) with every check ctml applies, and print what it says."""
    from ctml.app import load_app

    loaded = load_app(spec)
    policy = loaded.policy
    rows = [
        ("name", loaded.name),
        ("source", repr(loaded.source)),
        ("target", loaded.target),
        ("time", loaded.time or "-"),
        ("features", ", ".join(loaded.features) if loaded.features else "all but target and time"),
        ("model", repr(loaded.model)),
        ("training", repr(loaded.training)),
        ("gate", f"{loaded.gate.metric}, alpha {loaded.gate.alpha}, min effect {loaded.gate.min_effect}"),
        ("triggers", f"{policy.rule.name}; cooldown {policy.cooldown}; at most {policy.max_per_day} a day"),
        ("rollout", " -> ".join(loaded.rollout.stages)),
    ]
    table(f"App {loaded.name} ({spec})", ["field", "value"], rows)
