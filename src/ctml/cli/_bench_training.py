"""``ctml bench training``: every training strategy on every flavor, test-then-train on real streams."""

from __future__ import annotations

from pathlib import Path

import click

from ctml.bench.training import TrainingBench, bench_training, find_datasets, markdown_section, write_section
from ctml.cli._output import console, emit_json, table
from ctml.errors import ConfigError

__all__ = ["training"]

_COMMAND = "ctml bench training --write docs/benchmarks.md"


@click.command("training")
@click.option("--quick", is_flag=True, help="The first 3,000 rows of each stream, 6 windows, small models (< 1 min).")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The shared/datasets folder (found beside this folder or a parent by default).",
)
@click.option("--markdown", is_flag=True, help="Print the docs/benchmarks.md section.")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), help="Write the section into this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def training(quick: bool, data: Path | None, markdown: bool, write: Path | None, as_json: bool) -> None:
    """Full history, sliding window, warm start, incremental and fine-tune on elec2, spam and bike sharing.

    \b
    Each flavor (scikit-learn, LightGBM, XGBoost, River, torch) trains on the first 10% of a stream, then
    predicts each window of rows/20 and retrains with the strategy on the rows seen so far. Reported:
    accuracy (MAE for bike sharing) after the first retrain, retrains and training seconds.
    With --write FILE the section between its marker comments is replaced (other sections are kept).
    """
    root = data or find_datasets()
    if root is None:
        raise ConfigError("Cannot find shared/datasets beside this folder or its parents. Pass --data PATH.")
    bench = TrainingBench.quick() if quick else TrainingBench()
    err = console(stderr=True)
    show = not as_json and err.is_terminal
    rows = bench_training(bench, root=root, progress=err.print if show else None)
    section = markdown_section(rows, bench, _COMMAND + (" --quick" if quick else ""))
    if write is not None:
        write_section(write, section)
    if as_json:
        emit_json({"data": str(root), "settings": bench, "results": rows})
        return
    if markdown:
        click.echo(section, nl=False)
        return
    table(
        "Training strategies, test-then-train",
        ["dataset", "flavor", "strategy", "rows scored", "accuracy / MAE", "retrains", "training s"],
        [
            (
                r.dataset,
                r.flavor,
                r.strategy,
                r.rows_scored,
                f"{r.value:.4f}" if r.metric == "accuracy" else f"MAE {r.value:.1f}",
                f"{r.retrains} ({r.refused} refused)" if r.refused else r.retrains,
                f"{r.train_seconds:.2f}",
            )
            for r in rows
        ],
    )
    if write is not None:
        click.echo(f"Wrote the training section of {write}.")
