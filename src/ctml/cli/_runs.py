"""``ctml runs``: list and show runs."""

from __future__ import annotations

import click

from ctml.cli._context import State, pass_state
from ctml.cli._output import emit_json, seconds, table, when
from ctml.meta import Decision, Node

__all__ = ["runs"]


@click.group()
def runs() -> None:
    """List and inspect runs."""


@runs.command("list")
@click.option("--app", help="Only runs of this app.")
@click.option("--filter", "filter_", default="", help="e.g. \"metrics.accuracy > 0.9 and status = 'finished'\"")
@click.option("--order-by", default="created desc", show_default=True, help="created|ended|name|metrics.KEY asc|desc")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0))
@click.option("--offset", default=0, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def list_runs(
    state: State, app: str | None, filter_: str, order_by: str, limit: int, offset: int, as_json: bool
) -> None:
    """Runs, newest first."""
    found = state.workspace.meta.runs.search(filter_, app=app, order_by=order_by, limit=limit, offset=offset)
    if as_json:
        emit_json(found)
        return
    rows = [
        (
            r.id,
            r.app or "",
            r.name,
            r.status,
            when(r.created_at),
            seconds(r.duration_s),
            ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())[:4]),
        )
        for r in found
    ]
    total = state.workspace.meta.runs.count(filter_, app=app)
    table(f"Runs ({len(found)} of {total})", ["id", "app", "name", "status", "created", "duration", "metrics"], rows)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def show_run(state: State, run_id: str, as_json: bool) -> None:
    """One run: params, metrics, tags, steps, artifacts, decisions and what it produced."""
    meta = state.workspace.meta
    run = meta.runs.get(run_id)
    steps = meta.steps.list(run_id)
    artifacts = meta.artifacts.list(run_id=run_id)
    decisions = meta.decisions.list(run_id=run_id)
    produced = meta.lineage.downstream(Node("run", run_id), depth=1)
    inputs = meta.lineage.upstream(Node("run", run_id), depth=1)
    if as_json:
        emit_json(
            {
                "run": run,
                "steps": steps,
                "artifacts": artifacts,
                "decisions": decisions,
                "inputs": [str(e.src) for e in inputs],
                "outputs": [str(e.dst) for e in produced],
            }
        )
        return
    click.echo(f"Run {run.id}  {run.name}  [{run.status}]")
    click.echo(f"  app: {run.app or '-'}   kind: {run.kind}   actor: {run.actor}")
    click.echo(
        f"  created: {when(run.created_at)}   ended: {when(run.ended_at) or '-'}   duration: {seconds(run.duration_s)}"
    )
    if run.git_commit or run.code_fingerprint or run.seed is not None:
        click.echo(f"  git: {run.git_commit or '-'}   code: {run.code_fingerprint or '-'}   seed: {run.seed}")
    if run.params:
        table("Params", ["key", "value"], sorted(run.params.items()))
    if run.metrics:
        table("Metrics (latest)", ["key", "value"], [(k, f"{v:.6g}") for k, v in sorted(run.metrics.items())])
    if run.tags:
        table("Tags", ["key", "value"], sorted(run.tags.items()))
    if steps:
        table(
            "Steps",
            ["name", "status", "attempt", "duration", "cache"],
            [(s.name, s.status, s.attempt, seconds(s.duration_s), "hit" if s.cached else "") for s in steps],
        )
    if artifacts:
        table("Artifacts", ["name", "digest", "bytes"], [(a.name, a.digest[:16], a.size) for a in artifacts])
    if inputs or produced:
        table(
            "Lineage",
            ["direction", "node", "relation"],
            [("in", str(e.src), e.relation) for e in inputs] + [("out", str(e.dst), e.relation) for e in produced],
        )
    if decisions:
        table("Decisions", ["kind", "outcome", "summary"], [(d.kind, d.outcome, d.summary) for d in decisions])
        for decision in decisions:
            _show_checks(decision)
    if run.error:
        click.echo("Error:\n" + run.error)


def _show_checks(decision: Decision) -> None:
    """A gate's evidence, check by check: what was measured, against which limit, and what it meant."""
    checks = decision.evidence.get("checks")
    if not isinstance(checks, list) or not checks:
        return
    rows = []
    for check in checks:
        if isinstance(check, dict):
            value, limit = check.get("value"), check.get("limit")
            rows.append(
                (
                    str(check.get("name", "")),
                    str(check.get("status", "")),
                    "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value),
                    "-" if limit is None else str(limit),
                    str(check.get("detail", "")),
                )
            )
    title = f"Gate checks ({decision.outcome}, decision {decision.id})"
    table(title, ["check", "status", "value", "limit", "detail"], rows)
