"""``ctml init``: write a working app spec (``app.toml``) and the data it points at, ready to run."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import click

from ctml.cli._output import table
from ctml.errors import ConfigError

__all__ = ["init"]


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--name", default="elec2", show_default=True, help="The app's name.")
@click.option("--force", is_flag=True, help="Overwrite an existing app.toml (the data file is never overwritten).")
def init(folder: Path, name: str, force: bool) -> None:
    """Write FOLDER/app.toml, a complete app spec, and FOLDER/data/elec2.csv.gz, the real drifting Elec2
    stream shipped with ctml (45,312 half-hours of the New South Wales electricity market; the label is
    whether the price went UP or DOWN). Edit the spec for your own data: every table is commented.
    """
    from ctml.app import EXAMPLE, app_from_toml

    spec = folder / "app.toml"
    if spec.exists() and not force:
        raise ConfigError(f"{spec} already exists; pass --force to overwrite it, or choose another folder.")
    text = EXAMPLE.format(name=name, path="data/*.csv.gz", target="class").replace(
        '# time = "date"               # the event-time column, if any',
        'time = "date"                 # the event-time column',
    )
    app_from_toml(text, base=folder)  # the example must load: a broken template would fail here, not later
    data = folder / "data" / "elec2.csv.gz"
    data.parent.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        shipped = resources.files("ctml.demo").joinpath("data", "elec2.csv.gz")
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
