"""``ctml ui``: the web dashboard alone (``ctml serve`` also mounts it at /ui)."""

from __future__ import annotations

from pathlib import Path

import click

from ctml.cli._context import State, pass_state
from ctml.errors import MissingExtraError

__all__ = ["ui"]


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--reports",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of backtest reports (NAME.json / NAME.html). Default: <home>/reports.",
)
@pass_state
def ui(state: State, host: str, port: int, reports: Path | None) -> None:
    """Serve the dashboard at http://HOST:PORT/ui/: apps, models and lineage, runs, drift and performance over
    time, decisions with their evidence, backtest reports, and approve / promote / roll back behind an API
    token of role operate (`ctml tokens create --role operate`). See docs/dashboard.md."""
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingExtraError("serve", "ctml ui", "uvicorn") from exc
    from ctml.dashboard import create_dashboard, standalone

    app = standalone(create_dashboard(state.workspace, reports=reports))
    click.echo(f"Dashboard on http://{host}:{port}/ui/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
