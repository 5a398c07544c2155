"""``ctml demo``: replay the Elec2 stream through the continuous-training loop and show what it measured.

The computation lives in :mod:`ctml.demo`; this module only parses options, draws the progress bar and
prints. ``ctml.demo`` (numpy, pyarrow, scikit-learn) is imported when the command runs, so other commands
start fast.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ctml.cli._context import State, pass_state
from ctml.cli._output import console, emit_json, jsonable, table

if TYPE_CHECKING:
    from ctml.demo import DemoResult, WindowResult

__all__ = ["demo"]


@click.command()
@click.option(
    "--windows", type=click.IntRange(min=2), default=None, help="Replay only the first N windows (default: all)."
)
@click.option("--window-rows", type=click.IntRange(min=100), default=4000, show_default=True, help="Rows per window.")
@click.option(
    "--train-rows", type=click.IntRange(min=50), default=None, help="Sliding training window (default: 2 windows)."
)
@click.option(
    "--model", type=click.Choice(["logistic", "hgb"]), default="logistic", show_default=True, help="Model to train."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed recorded with, and used by, every run.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary instead of tables.")
@pass_state
def demo(
    state: State,
    windows: int | None,
    window_rows: int,
    train_rows: int | None,
    model: str,
    seed: int,
    as_json: bool,
) -> None:
    """Continuous training on a real drifting stream (Elec2, shipped with ctml), end to end.

    Each window of the stream becomes a dataset version; the champion predicts it before its labels are
    known; a challenger is retrained on recent rows, gated against the champion with a paired test, and
    promoted only if it wins. Everything lands in the workspace, ready for `ctml runs/models/lineage`.
    """
    from ctml.demo import DemoConfig, run_demo, window_count

    config = DemoConfig(windows=windows, window_rows=window_rows, train_rows=train_rows, model=model, seed=seed)
    if as_json:
        result = run_demo(state.settings, config)
        summary = _summary(result)
        summary["home"] = str(state.settings.home)
        summary["next_commands"] = _next_commands(result)
        emit_json(summary)
        return
    out = console()
    out.print(
        f"[bold]ctml demo[/]: continuous training on Elec2, 45,312 half-hours of the NSW electricity market "
        f"(1996-1998)\nstate: {state.settings.home}  model: {model}  window: {window_rows:,} rows  "
        f"gate: McNemar exact, alpha {config.alpha}, min effect +{config.min_effect * 100:.1f} pp\n"
    )
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("window 0: first model", total=window_count(config))

        def advance(done: WindowResult, total: int) -> None:
            live = "" if done.live_accuracy is None else f"live {done.live_accuracy:.1%}, "
            progress.update(task, advance=1, description=f"window {done.index}: {live}{done.decision}")

        result = run_demo(state.settings, config, on_window=advance)
    _print(result)


def _print(result: DemoResult) -> None:
    out = console()
    table(
        "Windows (the champion predicts each window before its labels are known)",
        [
            "win",
            "rows",
            "dates",
            "data",
            "champion",
            "live acc",
            f"v{result.comparison.static_version} static",
            "challenger",
            "holdout: chal vs champ",
            "p",
            "decision",
        ],
        [_row(w) for w in result.windows],
    )
    c = result.comparison
    out.print(
        f"\n[bold]Never retrained vs continuously retrained[/], on the same {c.rows:,} rows "
        f"(windows 1-{len(result.windows) - 1}, each predicted before its labels were known):"
    )
    out.print(f"  v{c.static_version}, trained once on window 0   {c.static_accuracy:6.1%}")
    out.print(
        f"  champion, retrained + gated    [bold]{c.retrained_accuracy:6.1%}[/]   {c.gain * 100:+.1f} pp, "
        f"McNemar exact p = {c.p_value:.2g} ({c.retrained_only:,} rows right only with retraining, "
        f"{c.static_only:,} only without)"
    )
    out.print(f"  always {c.constant_label!r:<23} {c.constant_accuracy:6.1%}   (the floor: most frequent first label)")
    gates = len(result.windows) - 1
    out.print(f"  {result.promotions} of {gates} challengers won the gate and became champion.")
    out.print(
        f"\n[bold]Lineage of the champion, {result.model} v{result.champion_version}[/] (read back from the store)\n"
        f"  model_version:{result.model}/{result.champion_version}\n"
        f"    <- produced by run:{result.champion_run_id}"
    )
    for d in result.champion_datasets:
        span = "" if d.start is None else f"rows {d.start:,}-{d.end:,}, "
        dates = f"{(d.time_min or '')[:10]} .. {(d.time_max or '')[:10]}"
        parent = f", derived from v{', v'.join(map(str, d.parent_versions))}" if d.parent_versions else ""
        out.print(
            f"      <- {d.relation:<13} dataset_version:{d.id} ({result.dataset} v{d.version}: {span}{dates}{parent})"
        )
    reused = result.datasets_reused
    out.print(
        f"\nDataset versions: {len(result.windows) - reused} new, {reused} reused "
        "(identical rows have the same content digest, hence the same version)."
    )
    out.print(f"Replayed in {result.elapsed_s:.1f} s.\n\n[bold]Next[/]:")
    commands = _next_commands(result)
    width = max(len(c) for c in commands)
    for command, what in zip(commands, _NEXT_WHAT, strict=True):
        out.print(f"  {command:<{width}}  # {what}", markup=False)


_NEXT_WHAT = (
    "this replay's runs: one monitor run, one training run per window",
    "every version, the champion alias and why it moved",
    "what produced the champion: run and dataset versions",
    "the champion's training run: params, metrics, lineage, its gate decision",
    "the monitor run: live accuracy per window (metric steps)",
)


def _row(w: WindowResult) -> list[str]:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    gate = w.gate
    return [
        str(w.index),
        f"{w.rows:,}",
        f"{w.time_min[:10]} .. {w.time_max[:10]}",
        f"v{w.dataset_version}{' (reused)' if w.dataset_reused else ''}",
        "-" if w.champion_version is None else f"v{w.champion_version}",
        pct(w.live_accuracy),
        pct(w.static_accuracy),
        f"v{w.challenger_version}",
        "-" if gate is None else f"{gate.challenger_accuracy:.1%} vs {gate.champion_accuracy:.1%}",
        "-" if gate is None else f"{gate.p_value:.2g}",
        "first model" if gate is None else w.decision,
    ]


def _summary(result: DemoResult) -> dict[str, Any]:
    summary: dict[str, Any] = jsonable(result)
    summary["comparison"]["gain"] = result.comparison.gain
    summary["datasets_reused"] = result.datasets_reused
    for window, record in zip(result.windows, summary["windows"], strict=True):
        if window.gate is not None:
            record["gate"]["effect"] = window.gate.effect
            record["gate"]["outcome"] = window.gate.outcome
    return summary


def _next_commands(result: DemoResult) -> list[str]:
    root = click.get_current_context().find_root().params
    prefix = "ctml"
    for option in ("home", "meta_url", "artifact_url"):
        if root.get(option):
            prefix += f" --{option.replace('_', '-')} {shlex.quote(str(root[option]))}"
    return [
        f"{prefix} runs list --app {result.app}",
        f"{prefix} models show {result.model}",
        f"{prefix} lineage {result.model}@champion",
        f"{prefix} runs show {result.champion_run_id}",
        f"{prefix} runs show {result.monitor_run_id}",
    ]
