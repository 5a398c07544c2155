"""``ctml bench detectors``: ADWIN, Page-Hinkley and DDM on usenet1's known drifts; writes docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

import click

from ctml.bench.detectors import USENET1_DRIFTS, bench_detectors, find_usenet1, markdown_section, write_section
from ctml.cli._output import emit_json, table
from ctml.errors import ConfigError

__all__ = ["detectors"]

_COMMAND = "ctml bench detectors --write docs/benchmarks.md"


@click.command("detectors")
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="usenet1.csv.")
@click.option("--markdown", is_flag=True, help="Print the docs/benchmarks.md section.")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), help="Write the section into this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def detectors(data: Path | None, markdown: bool, write: Path | None, as_json: bool) -> None:
    """Streaming detectors on the error stream of a model over usenet1 (drifts at rows 300, 600, 900, 1200).

    \b
    The data is shared/datasets/usenet1/usenet1.csv, found beside the working folder or a parent, or --data.
    With --write FILE the section between its marker comments is replaced (other sections are kept).
    """
    path = data or find_usenet1()
    if path is None:
        raise ConfigError(
            "Cannot find shared/datasets/usenet1/usenet1.csv beside this folder or its parents. Pass --data PATH."
        )
    results = bench_detectors(path)
    section = markdown_section(results, _COMMAND)
    if write is not None:
        write_section(write, section)
    if as_json:
        emit_json({"data": str(path), "drifts": list(USENET1_DRIFTS), "results": results})
        return
    if markdown:
        click.echo(section, nl=False)
        return
    table(
        f"Detectors on usenet1 (drifts at {', '.join(map(str, USENET1_DRIFTS))})",
        ["detector", "parameters", "found", "delays", "false alarms", "detections"],
        [
            (
                r.detector,
                ", ".join(f"{k}={v}" for k, v in r.params.items()),
                f"{r.found} of {len(r.delays)}",
                " / ".join("missed" if d is None else str(d) for d in r.delays),
                r.false_alarms,
                ", ".join(map(str, r.detections)),
            )
            for r in results
        ],
    )
    if write is not None:
        click.echo(f"Wrote the detectors section of {write}.")
