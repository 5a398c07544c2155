"""``ctml bench ingest``: CSV to Parquet rows/s and peak memory, ctml against pandas and pyarrow."""

from __future__ import annotations

import click

from ctml.bench.ingest import GOALS, IngestBench, IngestResult, bench_ingest
from ctml.cli._output import console, emit_json, table

__all__ = ["ingest"]


@click.command("ingest")
@click.option("--quick", is_flag=True, help="A 24 MB file instead of 2 GB: ends in seconds.")
@click.option("--file-mb", type=click.IntRange(min=1), help="Size of the generated CSV in MB (default 2048).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ingest(quick: bool, file_mb: int | None, as_json: bool) -> None:
    """Ingest one generated CSV with ctml, pandas (read_csv + to_parquet) and pyarrow (read_csv + write_table).

    \b
    Each contender runs in a fresh subprocess; only the conversion is timed, and its peak memory is the
    process's ru_maxrss (interpreter and imports included). ctml is run again on a file a quarter the size
    to show that its peak memory does not grow with the file.
    """
    workload = IngestBench.quick() if quick else IngestBench()
    if file_mb is not None:
        workload = IngestBench(file_mb=file_mb, seed=workload.seed)
    err = console(stderr=True)

    def say(what: str) -> None:
        if not as_json:
            err.print(f"[dim]{what}...[/]")

    result = bench_ingest(workload, progress=say)
    if as_json:
        emit_json(result.as_dict())
    else:
        _show(result)


def _show(result: IngestResult) -> None:
    rows = [
        (
            name,
            f"{m.rows_per_s:,.0f}",
            f"{m.seconds:.2f} s",
            f"{m.peak_mb:,.0f} MB",
        )
        for name, m in result.measurements.items()
    ]
    quarter = result.ctml_quarter
    rows.append(
        ("ctml (1/4 file)", f"{quarter.rows_per_s:,.0f}", f"{quarter.seconds:.2f} s", f"{quarter.peak_mb:,.0f} MB")
    )
    table(
        f"CSV ingest, {result.file_mb:,.0f} MB, {result.rows:,} rows",
        ["contender", "rows/s", "time", "peak memory"],
        rows,
    )
    checks = (
        ("ctml rows/s vs pandas", f"x{result.vs_pandas:.2f}", result.vs_pandas >= GOALS["vs_pandas"], ">= x3"),
        (
            "ctml time vs pyarrow read_csv + write_table",
            f"x{result.pyarrow_slowdown:.2f}",
            result.pyarrow_slowdown <= GOALS["vs_pyarrow"],
            "<= x1.5",
        ),
        (
            "ctml memory at 4x file",
            f"x{result.memory_growth:.2f}",
            result.memory_growth <= GOALS["memory_growth"],
            "<= x1.25",
        ),
    )
    for label, value, met, goal in checks:
        click.secho(f"  {label}: {value} (goal {goal}: {'met' if met else 'not met'})", fg="green" if met else "red")
