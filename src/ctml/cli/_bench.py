"""``ctml bench``: reproducible benchmarks, each measured against a baseline in the same run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ctml.bench import GOALS, INSTALL_HINT, TARGETS, TrackingResult, Workload, bench_tracking
from ctml.bench.tracking import Progress as ProgressCallback
from ctml.cli._output import console, emit_json, table

__all__ = ["bench"]


@click.group()
def bench() -> None:
    """Benchmarks against the tools ctml replaces, measured in the same run."""


@bench.command("tracking")
@click.option("--quick", is_flag=True, help="A small workload (20 runs, 5 searches, 1 repeat) that ends in seconds.")
@click.option("--repeats", type=click.IntRange(min=1), help="Report the best of N repeats (default 3; 1 with --quick).")
@click.option("--no-mlflow", is_flag=True, help="Measure ctml only, even when MLflow is installed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tracking(quick: bool, repeats: int | None, no_mlflow: bool, as_json: bool) -> None:
    """ctml's tracking against MLflow's, on the same workload in this process.

    \b
    Write: 100 runs, each created, given 20 params, 50 metrics and 2 tags in one batch call, and ended
      (ctml start_run/log_batch/finish; MLflow create_run/log_batch/set_terminated).
    Query: "query 1,000 runs by a metric filter" is read as 10 searches, each filtering all 100 runs by
      'metrics.KEY > median of KEY' (1,000 runs filtered), returning the ~half that pass (500 full runs
      with params, latest metrics and tags). This reading costs MLflow about 1 s on a 2-core machine.

    Both tools use SQLite with their own default settings, in a fresh temporary folder per repeat (under
    TMPDIR), on the same seeded data. Only the write loop and the query loop are timed (time.perf_counter);
    imports, database creation and migrations are not, for either. Repeats alternate between the tools and
    the best of N is reported. MLflow comes with the bench extra: pip install 'ctml[bench]'; without it
    ctml is measured alone.
    """
    workload = Workload.quick() if quick else Workload()
    if repeats is not None:
        workload = replace(workload, repeats=repeats)
    with _progress(enabled=not as_json) as report:
        result = bench_tracking(workload, mlflow=not no_mlflow, progress=report)
    if as_json:
        emit_json(result.as_dict())
    else:
        _show(result)


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressCallback]:
    """A progress bar on stderr, redrawn only between timed phases so no drawing thread runs inside a timer."""
    err = console(stderr=True)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        auto_refresh=False,
        transient=True,
        disable=not enabled or not err.is_terminal,
    )
    task = bar.add_task("starting", total=None)

    def report(what: str, done: int, total: int) -> None:
        bar.update(task, description=what, completed=done, total=total)
        bar.refresh()

    with bar:
        yield report


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}x"


def _secs(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _show(result: TrackingResult) -> None:
    w, ours, theirs = result.workload, result.ctml, result.mlflow
    rows = [
        (
            f"write {w.runs} runs x ({w.params} params + {w.metrics} metrics)",
            _secs(ours.best_write_s),
            "" if theirs is None else _secs(theirs.best_write_s),
            _ratio(result.write_speedup),
            f">= {TARGETS['write']:.0f}x (goal {GOALS['write']:.0f}x)",
        ),
        (
            f"query: {w.queries} metric-filtered searches, {result.runs_returned} runs returned",
            _secs(ours.best_query_s),
            "" if theirs is None else _secs(theirs.best_query_s),
            _ratio(result.query_speedup),
            f">= {TARGETS['query']:.0f}x (goal {GOALS['query']:.0f}x)",
        ),
    ]
    mlflow_title = "MLflow" if theirs is None else f"MLflow {theirs.version}"
    table(
        f"Tracking: ctml {ours.version} vs {mlflow_title} (SQLite, best of {w.repeats})",
        ["phase", "ctml", "MLflow", "speedup", "target"],
        rows,
    )
    for key, text in result.method.items():
        click.echo(f"  {key}: {text}")
    versions = ", ".join(f"{k} {v}" for k, v in result.versions.items())
    click.echo(f"  versions: {versions}")
    if theirs is None:
        click.secho(
            f"MLflow was skipped ({result.mlflow_skipped}). To compare, install it: {INSTALL_HINT}", fg="yellow"
        )
        return
    for phase, speedup in (("write", result.write_speedup), ("query", result.query_speedup)):
        met = speedup is not None and speedup >= TARGETS[phase]
        click.secho(
            f"{phase}: ctml is {_ratio(speedup)} faster than MLflow; the target is {TARGETS[phase]:.0f}x "
            f"({'met' if met else 'not met'}).",
            fg="green" if met else "red",
        )
