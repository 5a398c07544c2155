"""``ctml bench backtest``: ctml's default policy against the baselines on every shared stream."""

from __future__ import annotations

from pathlib import Path

import click

from ctml.backtest import POLICIES
from ctml.bench.backtest import QUICK, STREAMS, bench_backtest, find_datasets, markdown_section, summary, write_section
from ctml.cli._bench import _progress
from ctml.cli._output import emit_json, table
from ctml.errors import ConfigError

__all__ = ["backtest"]

_COMMAND = "ctml bench backtest --write docs/benchmarks.md"


@click.command("backtest")
@click.option("--datasets", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The shared datasets folder (default: shared/datasets beside this folder or a parent).")  # fmt: skip
@click.option("--stream", "streams", multiple=True, type=click.Choice([c.name for c in STREAMS]),
              help="A stream to run (repeatable; default: all).")  # fmt: skip
@click.option("--policy", "policies", multiple=True, type=click.Choice(POLICIES),
              help="A policy to run (repeatable; default: all).")  # fmt: skip
@click.option("--quick", is_flag=True, help=f"Only the small streams ({', '.join(QUICK)}).")
@click.option("--label-delay-share", type=float,
              help="Labels arrive this share of each stream's rows late (0.01: n/100; default: at once).")  # fmt: skip
@click.option("--markdown", is_flag=True, help="Print the docs/benchmarks.md section.")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), help="Write the section into this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backtest(
    datasets: Path | None,
    streams: tuple[str, ...],
    policies: tuple[str, ...],
    quick: bool,
    label_delay_share: float | None,
    markdown: bool,
    write: Path | None,
    as_json: bool,
) -> None:
    """Backtest every shared stream: ctml's default policy (through the controller and the model server) and the
    baselines never / periodic / always / arf, as `ctml backtest` does for one file. Takes about 15 minutes
    for all twelve streams on two cores; --quick runs four small ones.

    \b
    With --write FILE the section between its marker comments is replaced (other sections are kept).
    """
    folder = datasets or find_datasets()
    if folder is None:
        raise ConfigError("Cannot find shared/datasets beside this folder or its parents. Pass --datasets DIR.")
    chosen = list(streams) or (list(QUICK) if quick else None)
    with _progress(not as_json) as report:
        scores = bench_backtest(
            folder,
            streams=chosen,
            policies=policies or None,
            label_delay_share=label_delay_share,
            on_stream=lambda name, done, total: report(f"backtest {name}", done, total),
            on_row=lambda name, done, total: report(f"  {name} rows", done, total),
        )
    section = markdown_section(scores, _COMMAND)
    if write is not None:
        write_section(write, section)
    if as_json:
        emit_json({"datasets": str(folder), "streams": [s.to_json() for s in scores], "summary": summary(scores)})
        return
    if markdown:
        click.echo(section, nl=False)
        return
    names = [p for p in POLICIES if any(p in s.result.policies for s in scores)]
    rows = []
    for s in scores:
        cells: list[object] = [s.case.name, f"{s.result.rows:,}", s.result.metric]
        for name in names:
            found = s.result.policies.get(name)
            cells.append("-" if found is None else f"{found.value:.4f} ({found.retrains})")
        cells.append({True: "yes", False: "no", None: "-"}[s.goal])
        rows.append(cells)
    table("Backtest on the shared streams (retrains in brackets)", ["stream", "rows", "metric", *names, "goal"], rows)
    if write is not None:
        click.echo(f"Wrote the backtest section of {write}.")
