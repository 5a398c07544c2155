"""``ctml db``: the metadata schema."""

from __future__ import annotations

import click

from ctml.cli._context import State, pass_state
from ctml.cli._output import emit_json
from ctml.meta import open_meta, schema_status
from ctml.meta._engine import connect

__all__ = ["db"]


@click.group()
def db() -> None:
    """Metadata schema status and upgrades."""


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def status(state: State, as_json: bool) -> None:
    """The schema revision of the store and the newest this ctml knows."""
    engine = connect(state.settings.meta_url)
    try:
        current, head = schema_status(engine)
    finally:
        engine.dispose()
    if as_json:
        emit_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        click.echo(f"schema revision: {current or '(empty)'}; this ctml: {head}")


@db.command("upgrade")
@pass_state
def upgrade(state: State) -> None:
    """Create or upgrade the metadata schema to this ctml's revision."""
    open_meta(state.settings.meta_url, auto_migrate=True).close()
    click.echo("metadata schema is up to date")
