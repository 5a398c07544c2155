"""``ctml controller``: run the reconcile loop of one app, one line per cycle."""

from __future__ import annotations

from pathlib import Path

import click

from ctml.cli._context import State, pass_state

__all__ = ["controller"]


@click.command("controller")
@click.option("--app", "spec", type=click.Path(dir_okay=False, path_type=Path), default="app.toml",
              show_default=True, help="The app spec (TOML).")  # fmt: skip
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@click.option("--interval", default="60s", show_default=True, help="Time between cycles (30s, 5m, 1h).")
@click.option("--window", default="1h", show_default=True, help="The monitor's window.")
@click.option("--label-delay", default="0s", show_default=True, help="How long labels take to arrive.")
@pass_state
def controller(state: State, spec: Path, once: bool, interval: str, window: str, label_delay: str) -> None:
    """Keep the app of SPEC trained, judged and rolled out: ingest new files, step roll-outs, watch the
    champion and retrain when the app's triggers fire. Only one controller acts per app (a lease)."""
    import time

    from ctml.app import load_app, parse_duration
    from ctml.controller import Controller

    app = load_app(spec)
    pause = parse_duration(interval, "--interval").total_seconds()
    loop = Controller(state.workspace, app, window=parse_duration(window, "--window"),
                      label_delay=parse_duration(label_delay, "--label-delay"))  # fmt: skip
    try:
        while True:
            at = loop.clock.now()
            actions = loop.reconcile_once()
            said = "; ".join(f"{a}: {a.summary}" for a in actions) or "nothing to do"
            click.echo(f"{at.isoformat(timespec='seconds')} {app.name} {said}")
            if once:
                return
            time.sleep(pause)
    finally:
        loop.release()
