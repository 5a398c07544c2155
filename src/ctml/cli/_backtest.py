"""``ctml backtest``: replay a historical stream through ctml's loop in simulated time, beside baselines."""

from __future__ import annotations

from pathlib import Path

import click

from ctml.backtest import DEFAULT_POLICIES, POLICIES, BacktestConfig, render_backtest_html, run_backtest
from ctml.cli._bench import _progress
from ctml.cli._output import console, emit_json, table

__all__ = ["backtest"]


@click.command("backtest")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV or Parquet file (gz ok), rows in time order.",
)
@click.option("--target", required=True, help="The label column.")
@click.option(
    "--app",
    "app_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An app spec (TOML) for ctml's policy; default: one built for the data.",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Choice(POLICIES),
    help="A policy to run (repeatable; default: all).",
)
@click.option("--warmup", default=0.1, show_default=True, type=float, help="Share of rows the first model learns.")
@click.option("--label-delay", default=0, show_default=True, type=int, help="Rows before a row's label arrives.")
@click.option("--window", "window_rows", type=int, help="Rows between controller cycles (default n/50).")
@click.option("--every", default=1, show_default=True, type=int, help="Keep every N-th row (subsample).")
@click.option("--limit", type=int, help="Keep only the first N rows (after --every).")
@click.option(
    "--drop", multiple=True, help="A column that is not a feature: a leak of the label, a row id (repeatable)."
)
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backtest(
    data: Path,
    target: str,
    app_path: Path | None,
    policies: tuple[str, ...],
    warmup: float,
    label_delay: int,
    window_rows: int | None,
    every: int,
    limit: int | None,
    drop: tuple[str, ...],
    html_path: Path | None,
    as_json: bool,
) -> None:
    """Replay DATA row by row: ctml's policy through the controller and an in-process model server, and the
    baselines never / periodic / always / arf on the same rows (docs/backtest.md)."""
    config = BacktestConfig(warmup=warmup, window_rows=window_rows, label_delay=label_delay,
                            policies=policies or DEFAULT_POLICIES, every=every, limit=limit, drop=drop)  # fmt: skip
    with _progress(not as_json) as report:
        result = run_backtest(data, target, app=app_path, config=config,
                              progress=lambda policy, done, total: report(f"replay {policy}", done, total))  # fmt: skip
    if html_path is not None:
        html_path.write_text(render_backtest_html(result))
    if as_json:
        emit_json(result.to_json())
        return
    metric = result.metric
    rows = [
        [name, f"{p.value:.4f}", p.retrains, p.promotions, p.rollbacks, f"{p.seconds:.1f}",
         ", ".join(f"{k} x{v}" for k, v in p.to_json()["retrain_reasons"].items()) or "-"]  # type: ignore[union-attr]
        for name, p in result.policies.items()
    ]  # fmt: skip
    table(f"{data.name}: {result.rows:,} rows, scored after {result.warmup_rows:,}",
          ["policy", metric, "retrains", "promotions", "rollbacks", "seconds", "retrain reasons"], rows)  # fmt: skip
    for note in result.notes:
        console().print(f"[dim]{note}[/dim]")
