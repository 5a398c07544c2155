"""``ctml bench backtest``: ctml's default policy against the baselines on every shared stream."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ctml.backtest import POLICIES
from ctml.bench.backtest import QUICK, STREAMS, bench_backtest, find_datasets, markdown_section, summary, write_section
from ctml.cli._output import console, emit_json, table
from ctml.clock import WallClock
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
@click.option("--jobs", type=click.IntRange(min=1), help="Streams run at once, each in its own process "
              "(default: the CPU count).")  # fmt: skip
@click.option("--cost/--no-cost", "bare", default=None,
              help="Also time ctml's candidates outside ctml on the same rows and print ctml's wall time as a "
                   "multiple of it (default: on with --stream).")  # fmt: skip
@click.option("--markdown", is_flag=True, help="Print the docs/benchmarks.md section.")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), help="Write the section into this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backtest(
    datasets: Path | None,
    streams: tuple[str, ...],
    policies: tuple[str, ...],
    quick: bool,
    label_delay_share: float | None,
    jobs: int | None,
    bare: bool | None,
    markdown: bool,
    write: Path | None,
    as_json: bool,
) -> None:
    """Backtest every shared stream: ctml's default policy (through the controller and the model server) and the
    baselines never / periodic / always / arf, as `ctml backtest` does for one file. Streams run in parallel
    processes (--jobs), one progress line each with rows/s and time left; --quick runs four small ones.

    \b
    With --write FILE the section between its marker comments is replaced (other sections are kept).
    """
    folder = datasets or find_datasets()
    if folder is None:
        raise ConfigError("Cannot find shared/datasets beside this folder or its parents. Pass --datasets DIR.")
    chosen = list(streams) or (list(QUICK) if quick else None)
    began = WallClock().monotonic()
    with _Board() as board:  # stderr: never in the way of --json
        scores = bench_backtest(folder, streams=chosen, policies=policies or None, label_delay_share=label_delay_share,
                                jobs=jobs, bare_cost=bool(streams) if bare is None else bare,
                                progress=board.report)  # fmt: skip
    command = _COMMAND if label_delay_share is None else f"{_COMMAND} --label-delay-share {label_delay_share:g}"
    section = markdown_section(scores, command, label_delay_share=label_delay_share,
                               seconds=WallClock().monotonic() - began)  # fmt: skip
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
    for s in scores:
        mine = s.result.policies.get("ctml")
        if mine is None:
            continue
        cost, overhead = mine.details.get("bare_cost"), mine.details.get("overhead")
        if isinstance(cost, dict) and overhead is not None:
            click.echo(f"{s.case.name}: ctml took {mine.seconds:.1f} s, its candidates alone {cost['total']:.1f} s "
                       f"(online learners test-then-train and the same batch fits): {overhead:.2f}x")  # fmt: skip
        spent = mine.time_spent()
        if spent:
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in spent.items())
            click.echo(f"{s.case.name}: where ctml's time went: {parts}")
    if write is not None:
        click.echo(f"Wrote the backtest section of {write}.")


class _Board:
    """One progress line per stream (stage, rows, rows/s, time left) on a terminal; elsewhere one line on stderr
    as each stream ends."""

    def __init__(self) -> None:
        self.err = console(stderr=True)
        self.live = self.err.is_terminal
        self.bar = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=self.err,
                            disable=not self.live, refresh_per_second=4)  # fmt: skip
        self.tasks: dict[str, TaskID] = {}
        self.began: dict[str, float] = {}
        self.clock = WallClock()

    def __enter__(self) -> _Board:
        if self.live:  # a live display holds back other output on its console until it stops
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.bar.__exit__(None, None, None)

    def report(self, name: str, stage: str, done: int, total: int) -> None:
        now = self.clock.monotonic()
        task = self.tasks.get(name)
        if task is None:
            task = self.tasks[name] = self.bar.add_task(f"{name} {stage}", total=None, rate="")
        began = self.began.setdefault(name, now) if stage != "queued" else now
        rate = ""
        if stage == "ctml" and done > 0:
            speed = done / max(now - began, 1e-9)
            rate = f"{speed:,.0f} rows/s, {(total - done) / speed:,.0f} s left"
        self.bar.update(task, description=f"{name} {stage}", completed=done, total=total or None, rate=rate)
        if stage == "done" and not self.live:
            self.err.print(f"{name}: done in {now - began:,.0f} s")
