"""``ctml bench ui``: the dashboard's apps overview and model page, timed over 10k runs and 1k versions."""

from __future__ import annotations

from pathlib import Path

import click

from ctml.cli._output import emit_json, table

__all__ = ["ui"]


@click.command("ui")
@click.option("--quick", is_flag=True, help="10 timed requests per page instead of 30 (the store is the same).")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), help="Write the section into this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ui(quick: bool, write: Path | None, as_json: bool) -> None:
    """Median and p95 time to serve dashboard pages from a store of 10,000 runs (30,000 steps) and 1,000 model
    versions, over HTTP on loopback. Goal: the apps overview and a model page under 300 ms."""
    from ctml.bench.ui import GOAL_MS, UiWorkload, bench_ui

    workload = UiWorkload.quick() if quick else UiWorkload()
    say = None if as_json else (lambda what: click.echo(f"  {what}", err=True))
    result = bench_ui(workload, progress=say)
    if write is not None:
        from ctml.bench._markdown import write_section
        from ctml.bench.ui import markdown_section

        command = "ctml bench ui" + (" --quick" if quick else "")
        write_section(write, markdown_section(result, f"{command} --write {write}"))
    if as_json:
        emit_json(result.as_dict())
        return
    table(
        f"Dashboard pages: {workload.runs:,} runs, {workload.versions:,} versions ({workload.requests} requests each)",
        ["page", "path", "median ms", "p95 ms", "KiB", f"< {GOAL_MS:g} ms"],
        [
            (
                p.page,
                p.path,
                f"{p.median_ms:.1f}",
                f"{p.p95_ms:.1f}",
                f"{p.bytes / 1024:.0f}",
                ("yes" if p.median_ms < GOAL_MS else "NO") if p.page in ("overview", "model") else "",
            )
            for p in result.pages
        ],
    )
    click.echo(f"  store populated in {result.populate_s:.1f} s; goal {'met' if result.passed else 'NOT met'}")
