"""``ctml demo``: two years of hourly bike rentals replayed through the whole product, narrated as it happens.

The computation lives in :mod:`ctml.demo`; this module only parses options, draws the progress bar and
prints each event the replay reports. ``ctml.demo`` (numpy, pyarrow, scikit-learn, the model server) is
imported when the command runs, so other commands start fast.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ctml.cli._context import State, pass_state
from ctml.cli._output import console, emit_json, table

if TYPE_CHECKING:
    from ctml.demo import DemoConfig, DemoEvent, DemoResult

__all__ = ["demo"]

_STYLES = {"server": "bold cyan", "first": "cyan", "drift": "yellow", "retrain": "bold yellow", "train": "",
           "gate": "magenta", "rollout": "blue", "promoted": "bold green", "rollback": "bold red",
           "report": "bold"}  # fmt: skip


@click.command()
@click.option(
    "--quick", is_flag=True, help="Replay the first four months only (about 10 s): the same loop, less story."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every model and of the canary split.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary instead of the narration.")
@pass_state
def demo(state: State, quick: bool, seed: int, as_json: bool) -> None:
    """Continuous training, end to end, on a real drifting stream shipped with ctml: two years of hourly bike
    rentals in Washington D.C. (UCI Bike Sharing, CC BY 4.0), replayed in simulated time.

    A model server listens on a free loopback port and answers every hour over HTTP before its count is
    known; the counts follow a day later as feedback and as new files of the app's source. Every two weeks
    of the stream the controller ingests, the monitor measures drift and the live error, the policy decides
    whether to retrain, the gate judges the challenger against the champion, and a winner is rolled out
    through shadow and a 25% canary to full traffic. Everything lands in the workspace (see `ctml runs`,
    `ctml models`, `ctml ui`); the report is written under <home>/reports.
    """
    from dataclasses import replace

    from ctml.demo import DemoConfig, run_demo, window_count

    config = replace(DemoConfig.quick() if quick else DemoConfig(), seed=seed)
    if as_json:
        result = run_demo(state.settings, config)
        emit_json({**result.to_json(), "next_commands": _next_commands(result)})
        return
    out = console()
    _intro(out, state, config)
    rows = config.rows or 17_379
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as progress:
        task = progress.add_task("training the first model", total=window_count(config, rows))

        def tell(event: DemoEvent) -> None:
            if event.kind == "window":
                progress.update(task, completed=int(event.evidence["index"]),  # type: ignore[arg-type]
                                description=f"{event.at:%Y-%m-%d} {event.message}")  # fmt: skip
            elif event.kind != "ingest":
                style = _STYLES.get(event.kind, "")
                text = f"[{style}]{event.message}[/]" if style else event.message
                out.print(f"[dim]{event.at:%Y-%m-%d}[/] {text}", highlight=False)

        result = run_demo(state.settings, config, on_event=tell)
    _summary(out, result)


def _intro(out: Console, state: State, config: DemoConfig) -> None:
    span = "four months" if config.rows else "two years"
    out.print(
        f"[bold]ctml demo[/]: {span} of hourly bike rentals in Washington D.C. (UCI Bike Sharing, CC BY 4.0), "
        "replayed in simulated time through the product\n"
        f"workspace: {state.settings.home}\n"
        f"a controller cycle every {config.window_rows // 24} days; counts known {config.label_delay_rows} h late; "
        f"retrain on drift of {config.drift_share:.0%} of the features, an MAE rise of {config.max_drop:g} rentals, "
        f"or {config.volume_rows // 24} days of new data, at most once per {config.cooldown_days:g} days; "
        "gate: paired bootstrap on MAE; roll-out: shadow -> canary 25% -> full\n",
        highlight=False,
    )


def _summary(out: Console, result: DemoResult) -> None:
    verdicts = ", ".join(f"{n} {k}" for k, n in sorted(result.gate_verdicts.items())) or "none"
    table(
        f"What the loop did on {result.scored_rows:,} hours ({result.windows} cycles, {result.elapsed_s:.0f} s)",
        ["", "value"],
        [
            ["live MAE of the loop (every hour answered over HTTP)", f"{result.live_mae:.1f} rentals"],
            [f"MAE of v{result.static_version} never retrained, same hours", f"{result.static_mae:.1f} rentals"],
            ["retrains fired", str(result.retrains)],
            ["gate verdicts", verdicts],
            ["promotions (roll-outs that reached full traffic)", str(result.promotions)],
            ["rollbacks", str(result.rollbacks)],
            ["champion now", f"{result.model} v{result.champion_version}"],
            ["predictions logged by the server", f"{result.predictions_logged:,}"],
            ["decisions stored (trigger, gate, roll-out)", f"{result.decisions_stored:,}"],
        ],
    )
    out.print(f"\nreport:    {result.report}\nworkspace: {result.home}\n\n[bold]Next[/]:", highlight=False)
    for command in _next_commands(result):
        out.print(f"  {command}", markup=False, highlight=False)


def _next_commands(result: DemoResult) -> list[str]:
    root = click.get_current_context().find_root().params
    prefix = "ctml"
    for option in ("home", "meta_url", "artifact_url"):
        if root.get(option):
            prefix += f" --{option.replace('_', '-')} {shlex.quote(str(root[option]))}"
    return [
        f"{prefix} runs list --app {result.app}",
        f"{prefix} models show {result.model}",
        f"{prefix} rollout status {result.app}",
        f"{prefix} ui",
    ]
