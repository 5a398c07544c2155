"""``ctml bench drift``: ctml's drift report against Evidently and NannyML on the same generated data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from ctml.bench._markdown import write_section
from ctml.bench.drift import (
    ANCHORS,
    TARGETS,
    DriftBenchResult,
    DriftWorkload,
    ToolRun,
    bench_drift,
    markdown_section,
)
from ctml.cli._output import console, emit_json, table

__all__ = ["drift"]


@click.command("drift")
@click.option("--rows", type=click.IntRange(min=100), help="Rows a side (default 1,000,000; 20,000 with --quick).")
@click.option("--quick", is_flag=True, help="A small workload for CI: 20,000 rows, 8 numeric + 2 categorical columns.")
@click.option("--anchor", "anchors", multiple=True, type=click.Choice(sorted(ANCHORS)), help="Anchors to run.")
@click.option("--no-anchors", is_flag=True, help="Measure ctml only.")
@click.option(
    "--anchor-timeout", default=900.0, show_default=True, type=float, help="Seconds before an anchor is killed."
)
@click.option("--no-install", is_flag=True, help="Do not create the anchors' virtual environments.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Default ~/.cache/ctml-bench.")
@click.option(
    "--write", type=click.Path(dir_okay=False, path_type=Path), help="Write the results section into this file."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def drift(
    rows: int | None,
    quick: bool,
    anchors: tuple[str, ...],
    no_anchors: bool,
    anchor_timeout: float,
    no_install: bool,
    cache_dir: Path | None,
    write: Path | None,
    as_json: bool,
) -> None:
    """Per-column drift report: ctml vs Evidently's DataDriftPreset and NannyML's univariate drift.

    \b
    Reference and current of N rows each (40 numeric + 10 text columns), seeded, written once as
    Parquet; each tool runs in its own subprocess on the same files, its drift computation timed and its
    peak RSS taken. ctml is also timed with the reference read from a stored profile. Evidently and
    NannyML run in their own virtual environments under ~/.cache/ctml-bench (made on first use) because
    their pins clash with ctml's; a tool that cannot install is reported as skipped, with the reason.
    """
    workload = DriftWorkload.quick() if quick else DriftWorkload()
    if rows is not None:
        workload = replace(workload, rows=rows)
    chosen = () if no_anchors else (anchors or tuple(ANCHORS))
    err = console(stderr=True)

    def progress(what: str) -> None:
        if not as_json:
            err.print(f"[dim]{what}[/dim]")

    result = bench_drift(
        workload,
        anchors=chosen,
        anchor_timeout_s=anchor_timeout,
        install=not no_install,
        cache_dir=cache_dir,
        progress=progress,
    )
    if write is not None:
        command = "ctml bench drift" + ("" if rows is None else f" --rows {rows}") + (" --quick" if quick else "")
        write_section(write, markdown_section(result, f"{command} --write {write}"))
    if as_json:
        emit_json(result.as_dict())
        return
    _show(result)


def _secs(run: ToolRun) -> str:
    if run.seconds is not None:
        return f"{run.seconds:.2f} s"
    if run.timed_out_after_s is not None:
        return f"> {run.timed_out_after_s:.0f} s (killed)"
    return "skipped"


def _mb(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} MB"


def _show(result: DriftBenchResult) -> None:
    w = result.workload
    rows = [
        ("ctml (raw reference)", _secs(result.ctml), _mb(result.ctml.peak_mb), result.ctml.drifted_columns, ""),
        (
            "ctml (stored profile)",
            _secs(result.ctml_profile),
            _mb(result.ctml_profile.peak_mb),
            result.ctml_profile.drifted_columns,
            "",
        ),
    ]
    for tool, run in result.anchors.items():
        speedup = result.speedup(tool)
        bound = run.seconds is None and run.timed_out_after_s is not None
        ratio = "" if speedup is None else f"{'>= ' if bound else ''}{speedup:.1f}x"
        rows.append((f"{tool} {run.version or ''}".strip(), _secs(run), _mb(run.peak_mb), run.drifted_columns, ratio))
    table(
        f"Drift report: {w.rows:,} rows a side, {w.numeric} numeric + {w.categorical} categorical columns "
        f"(data {result.data_mb:,.0f} MB in memory)",
        ["tool", "drift computation", "peak RSS", "drifted columns", "ctml speedup"],
        rows,
    )
    out = console()
    for key, text in result.method.items():
        out.print(f"  {key}: {text}", highlight=False)
    for tool, run in result.anchors.items():
        if run.skipped and run.timed_out_after_s is None:
            out.print(f"[yellow]{tool} was not measured: {run.skipped}[/yellow]")
    checks: list[tuple[str, str, str, bool]] = []
    for tool in ("evidently", "nannyml"):
        speedup = result.speedup(tool)
        if speedup is not None:
            checks.append(
                (f"speedup vs {tool}", f"{speedup:.1f}x", f">= {TARGETS[tool]:.0f}x", speedup >= TARGETS[tool])
            )
    if result.ctml.peak_mb is not None:
        share = result.ctml.peak_mb / result.data_mb
        checks.append(
            ("peak memory / data", f"{share:.2f}", f"<= {TARGETS['memory_ratio']}", share <= TARGETS["memory_ratio"])
        )
    if result.ctml_profile.seconds is not None:
        secs = result.ctml_profile.seconds
        checks.append(
            (
                "window from stored profile",
                f"{secs:.2f} s",
                f"< {TARGETS['profile_s']:.0f} s",
                secs < TARGETS["profile_s"],
            )
        )
    for name, value, target, met in checks:
        colour = "green" if met else "red"
        out.print(f"[{colour}]{name}: {value} (target {target}: {'met' if met else 'not met'})[/{colour}]")
