"""``ctml bench pipeline``: engine overhead per step, a fan-out on every executor, and Metaflow's no-op step."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from ctml.bench._markdown import write_section
from ctml.bench.pipeline import GOALS, PipelineBench, PipelineResult, bench_pipeline, markdown_section
from ctml.cli._output import console, emit_json, table

__all__ = ["pipeline"]


@click.command("pipeline")
@click.option("--quick", is_flag=True, help="Chains of 10 and 60 steps and a 100-way fan-out: ends in seconds.")
@click.option("--fanout", type=click.IntRange(min=1), help="Partitions in the fan-out (default 1,000).")
@click.option("--no-ray", is_flag=True, help="Leave Ray out even when it is installed.")
@click.option("--no-anchor", is_flag=True, help="Leave Metaflow out even when it is installed.")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), help="Write the section into this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pipeline(quick: bool, fanout: int | None, no_ray: bool, no_anchor: bool, write: Path | None, as_json: bool) -> None:
    """The pipeline engine's cost per no-op step, and a fan-out of small trainings inline, on a process
    pool and on a local Ray cluster, with the same no-op chain in Metaflow (bench extra) for scale.

    \b
    Step overhead: the slope between a short and a long chain of no-op steps run inline on SQLite and a
      local artifact store, so what a run costs once is left out. Goal: at most 2 ms per step.
    Fan-out: one step mapped over N partitions (a seeded logistic regression on 2,000 rows each), then a
      gather; workers are started and warmed before the clock starts; every task has one native thread.
      The Ray cluster is started on 127.0.0.1 for the measurement and stopped after it.
    Anchor: a Metaflow flow of the same shape (local datastore), its cost per step by the same slope.
    """
    workload = PipelineBench.quick() if quick else PipelineBench()
    workload = replace(workload, ray=not no_ray, anchor=not no_anchor)
    if fanout is not None:
        workload = replace(workload, fanout=fanout)
    err = console(stderr=True)

    def say(what: str) -> None:
        if not as_json:
            err.print(f"[dim]{what}...[/]")

    result = bench_pipeline(workload, progress=say)
    command = "ctml bench pipeline" + (" --quick" if quick else "")
    if write is not None:
        write_section(write, markdown_section(result, f"{command} --write {write}"))
    if as_json:
        emit_json(result.as_dict())
    else:
        _show(result)


def _show(result: PipelineResult) -> None:
    w = result.workload

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f} s"

    def times(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    table(
        f"{w.fanout}-way fan-out of small trainings",
        ["executor", "time", "speed-up over inline"],
        [
            ("inline", secs(result.fanout_s["inline"]), "1.00x"),
            (f"process pool ({w.workers})", secs(result.fanout_s.get("process")), times(result.speedup("process"))),
            (f"Ray, local ({w.workers} CPUs)", secs(result.fanout_s.get("ray")), times(result.speedup("ray"))),
        ],
    )
    met = result.meets_goals
    click.secho(
        f"  overhead per no-op step, inline: {result.step_overhead_ms:.2f} ms "
        f"(goal <= {GOALS['step_overhead_ms']:.0f} ms: {'met' if met else 'not met'})",
        fg="green" if met else "red",
    )
    if result.anchor_step_overhead_ms is not None:
        click.echo(
            f"  {result.anchor}, the same no-op step: {result.anchor_step_overhead_ms:.0f} ms "
            f"({times(result.anchor_ratio)} ctml's)"
        )
    for note in result.notes:
        click.secho(f"  {note}", fg="yellow")
