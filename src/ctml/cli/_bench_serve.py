"""``ctml bench serve``: ctml's model server against MLflow's and a bare Starlette app, measured in one run."""

from __future__ import annotations

from pathlib import Path

import click

from ctml.cli._output import emit_json, table

__all__ = ["serve"]


@click.command("serve")
@click.option("--quick", is_flag=True, help="One 1.5 s run per scenario (default: the best of 3 runs of 5 s).")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Elec2's CSV (default: shared/datasets/elec2/elec2.csv beside this folder or a parent).",
)
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), help="Write the section into this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per scenario.")
def serve(quick: bool, data: Path | None, write: Path | None, as_json: bool) -> None:
    """Throughput and p99 of ctml (logging on), `mlflow models serve` and a bare Starlette app.

    \b
    ctml runs twice: as `ctml serve` does by default (the model answered in one verified NumPy pass) and as
    `ctml serve --no-fast-path` (scikit-learn's predict and predict_proba, like the bare app: column "sklearn").

    \b
    The same LogisticRegression (the first 5,000 rows of Elec2, 8 features), one uvicorn worker each, on
    loopback; 1-row and 100-row requests at 1 and 16 connections, from a separate load-generator process (raw
    HTTP/1.1 keep-alive, closed loop) that costs every server the same. Goals: ctml >= 3x MLflow's throughput
    with a lower p99 (goal 5x), and >= 0.8x the bare app's. MLflow comes with pip install 'ctml[bench]'.
    """
    from ctml.bench.serve import GOALS, ServeWorkload, bench_serve

    workload = ServeWorkload.quick() if quick else ServeWorkload()
    say = None if as_json else (lambda what: click.echo(f"  {what}", err=True))
    result = bench_serve(workload, data=data, progress=say)
    if write is not None:
        from ctml.bench._markdown import write_section
        from ctml.bench.serve import markdown_section

        command = "ctml bench serve" + (" --quick" if quick else "")
        write_section(write, markdown_section(result, f"{command} --write {write}"))
    if as_json:
        emit_json(result.as_list())
        return

    def ratio(a: float | None, b: float | None) -> str:
        return "" if a is None or b is None or b == 0 else f"{a / b:.2f}x"

    def num(v: float | None) -> str:
        return "" if v is None else f"{v:,.1f}"

    table(
        f"Serving, {workload.seconds:g} s per scenario (rps; p99 ms)",
        [
            "rows",
            "conns",
            "ctml rps",
            "sklearn rps",
            "MLflow rps",
            "bare rps",
            "ctml/MLflow",
            "ctml/bare",
            "ctml p99",
            "MLflow p99",
            "bare p99",
        ],
        [
            (
                s.rows,
                s.connections,
                num(s.ctml_rps),
                num(s.ctml_sklearn_rps),
                num(s.mlflow_rps),
                num(s.bare_rps),
                ratio(s.ctml_rps, s.mlflow_rps),
                ratio(s.ctml_rps, s.bare_rps),
                num(s.ctml_p99_ms),
                num(s.mlflow_p99_ms),
                num(s.bare_p99_ms),
            )
            for s in result.scenarios
        ],
    )
    click.echo(
        f"  goals: ctml >= {GOALS['mlflow_x']:g}x MLflow (goal {GOALS['mlflow_x_goal']:g}x), "
        f">= {GOALS['bare_x']:g}x bare; predictions logged by ctml: {result.logged_rows:,}; {result.load}"
    )
    if result.mlflow_skipped:
        click.secho(f"MLflow was skipped: {result.mlflow_skipped}", fg="yellow")
