"""``ctml controller``: run the reconcile loop of one app, one line per cycle, woken by bus events if asked."""

from __future__ import annotations

from datetime import datetime
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
@click.option("--bus", "bus_url", default=None, metavar="URL",
              help="Read 'retrain' and 'new_data' events from this bus (redis://, nats://, sqlite:///, "
                   "postgresql://). Default: no bus, a cycle every --interval.")  # fmt: skip
@click.option("--group", default=None, help="The bus consumer group of this app's controllers [controller-<app>].")
@click.option("--lease-ttl", default="5m", show_default=True,
              help="How long the app's lease outlives a controller that stopped answering.")  # fmt: skip
@pass_state
def controller(
    state: State,
    spec: Path,
    once: bool,
    interval: str,
    window: str,
    label_delay: str,
    bus_url: str | None,
    group: str | None,
    lease_ttl: str,
) -> None:
    """Keep the app of SPEC trained, judged and rolled out: ingest new files, step roll-outs, watch the
    champion and retrain when the app's triggers fire. Only one controller acts per app (a lease).

    With --bus, a 'retrain' event is stored as a retraining request (deduplicated by the event's id) and a
    'new_data' event starts a cycle at once instead of at the end of the interval.
    """
    from ctml.app import load_app, parse_duration
    from ctml.controller import Action, Controller, Loop

    app = load_app(spec)
    pause = parse_duration(interval, "--interval")
    ttl = parse_duration(lease_ttl, "--lease-ttl")
    if pause.total_seconds() <= 0 or ttl.total_seconds() <= 0:
        raise click.BadParameter("--interval and --lease-ttl must be longer than 0s.")
    reconciler = Controller(state.workspace, app, window=parse_duration(window, "--window"),
                            label_delay=parse_duration(label_delay, "--label-delay"), lease_ttl=ttl)  # fmt: skip

    def report(at: datetime, actions: list[Action]) -> None:
        said = "; ".join(f"{a}: {a.summary}" for a in actions) or "nothing to do"
        click.echo(f"{at.isoformat(timespec='seconds')} {app.name} {said}")

    bus = None
    if bus_url is not None:
        from ctml.bus import open_bus

        bus = open_bus(bus_url)
    try:
        loop = Loop(reconciler, bus=bus, group=group, interval=pause)
        try:
            loop.run(cycles=1 if once else None, report=report)
        finally:
            loop.close()
    finally:
        if bus is not None:
            bus.close()
