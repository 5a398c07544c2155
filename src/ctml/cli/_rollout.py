"""``ctml models promote|rollback`` and ``ctml rollout status|step|abort``: roll-outs from the command line.

A promotion starts a roll-out (shadow, canary steps, full) that the guards watch; ``--now`` moves the alias at
once (blue/green, still recorded with who and why). ``ctml rollout step`` measures the active roll-out from the
prediction log and moves it on or back, which the controller does on its own; here it is by hand or from cron.
"""

from __future__ import annotations

import click

from ctml.app import parse_duration
from ctml.cli._context import State, pass_state
from ctml.cli._output import emit_json, table, when
from ctml.errors import ConfigError

__all__ = ["promote", "rollback", "rollout"]


def _percentages(text: str) -> tuple[float, ...]:
    if text.strip() in ("", "none"):
        return ()
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"--canary takes percentages separated by commas, e.g. 5,25,50. Got {text!r}.") from None


@click.command("promote")
@click.argument("model")
@click.argument("version", type=int)
@click.option("--app", default=None, help="The app whose traffic rolls over (default: the model's name).")
@click.option("--now", "at_once", is_flag=True, help="Move the champion alias at once: no shadow, no canary.")
@click.option("--shadow", default="10m", show_default=True, help="Shadow stage length (0 skips it).")
@click.option("--canary", default="5,25,50", show_default=True, help="Canary steps, percent of traffic.")
@click.option("--bake", default="30m", show_default=True, help="How long each stage is held.")
@click.option("--bake-requests", type=click.IntRange(min=0), default=500, show_default=True)
@click.option("--max-error-rate", type=click.FloatRange(0, 1), default=0.01, show_default=True)
@click.option("--max-p99-ms", type=click.FloatRange(min=0), default=None, help="Latency guard (off by default).")
@click.option("--max-metric-drop", type=click.FloatRange(min=0), default=0.02, show_default=True)
@click.option("--reason", default="", help="Why: recorded with the decision.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def promote(
    state: State,
    model: str,
    version: int,
    app: str | None,
    at_once: bool,
    shadow: str,
    canary: str,
    bake: str,
    bake_requests: int,
    max_error_rate: float,
    max_p99_ms: float | None,
    max_metric_drop: float,
    reason: str,
    as_json: bool,
) -> None:
    """Make MODEL v VERSION the champion: through a guarded roll-out, or at once with --now."""
    from ctml.rollout import RolloutPlan, Rollouts

    ws = state.workspace
    if at_once:
        target = ws.registry.promote(model, version, reason=reason or "promoted by hand (--now)")
        ws.meta.decisions.record("promotion", "promote", f"{model} v{version} promoted at once", {"reason": reason},
                                 app=app or model, model=model, version=version, actor=ws.settings.actor)  # fmt: skip
        if as_json:
            emit_json(target)
        else:
            click.echo(f"{model}@champion -> v{target.version} (revision {target.revision})")
        return
    plan = RolloutPlan(
        shadow_s=parse_duration(shadow, "--shadow").total_seconds(),
        canary=_percentages(canary),
        bake_s=parse_duration(bake, "--bake").total_seconds(),
        bake_requests=bake_requests,
        max_error_rate=max_error_rate,
        max_p99_ms=max_p99_ms,
        max_metric_drop=max_metric_drop,
    )
    started = Rollouts(ws.meta, ws.registry).start(app or model, model, version, plan, reason=reason)
    if as_json:
        emit_json({"state": started.to_json(), "plan": plan.to_json()})
    else:
        click.echo(f"Rolling out {model} v{version} for app {app or model}: {' -> '.join(plan.stages)}")


@click.command("rollback")
@click.argument("model")
@click.option("--app", default=None, help="The app (default: the model's name); its active roll-out is aborted.")
@click.option("--reason", default="", help="Why: recorded with the decision.")
@pass_state
def rollback(state: State, model: str, app: str | None, reason: str) -> None:
    """Roll back: abort the app's active roll-out, or else move the champion alias to its previous version."""
    from ctml.rollout import Rollouts

    ws = state.workspace
    rollouts = Rollouts(ws.meta, ws.registry)
    found = rollouts.current(app or model)
    if found is not None and found[0].status == "active":
        decision = rollouts.abort(app or model, reason=reason or "rolled back by hand")
        click.echo(decision.reason)
        return
    target = ws.registry.rollback(model, reason=reason or "rolled back by hand")
    ws.meta.decisions.record("rollback", "rollback", f"{model} rolled back to v{target.version} by hand",
                             {"reason": reason}, app=app or model, model=model, version=target.version,
                             actor=ws.settings.actor)  # fmt: skip
    click.echo(f"{model}@champion -> v{target.version} (revision {target.revision})")


@click.group("rollout")
def rollout() -> None:
    """Roll-outs: where each stands, and moving one on or back."""


@rollout.command("status")
@click.argument("app")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def status(state: State, app: str, as_json: bool) -> None:
    """The app's roll-out: stage, guards as last measured, and history."""
    from ctml.rollout import Rollouts, guards

    ws = state.workspace
    rollouts = Rollouts(ws.meta, ws.registry)
    found = rollouts.current(app)
    if found is None:
        raise ConfigError(f"App {app!r} has never had a roll-out. Start one with `ctml models promote MODEL VERSION`.")
    current, plan, revision = found
    stats = rollouts.measure(app, current, ws.meta.clock.now()) if current.status == "active" else None
    if as_json:
        emit_json({"state": current.to_json(), "plan": plan.to_json(), "revision": revision,
                   "stats": None if stats is None else stats.to_json()})  # fmt: skip
        return
    click.echo(
        f"{app}: {current.model} v{current.candidate} replacing {current.previous or '-'} — {current.status}, "
        f"stage {current.stage_name(plan)} since {when(current.stage_started)}"
    )
    if stats is not None:
        rows = [(g.name, g.status, "-" if g.value is None else f"{g.value:.4g}", "-" if g.limit is None else
                 f"{g.limit:g}", g.detail) for g in guards(plan, stats)]  # fmt: skip
        table("Guards", ["guard", "status", "value", "limit", "detail"], rows)
    table("History", ["at", "event", "detail"], [(h.get("at"), h.get("event"), ", ".join(
        f"{k}={v}" for k, v in h.items() if k not in ("at", "event"))) for h in current.history])  # fmt: skip


@rollout.command("step")
@click.argument("app")
@pass_state
def step_cmd(state: State, app: str) -> None:
    """Measure the app's active roll-out and move it on, hold it, or roll it back."""
    from ctml.rollout import Rollouts

    ws = state.workspace
    decision = Rollouts(ws.meta, ws.registry).step(app)
    click.echo(f"{decision.outcome}: {decision.reason}")


@rollout.command("abort")
@click.argument("app")
@click.option("--reason", required=True, help="Why: recorded with the decision.")
@pass_state
def abort(state: State, app: str, reason: str) -> None:
    """Roll the app's active roll-out back now."""
    from ctml.rollout import Rollouts

    ws = state.workspace
    click.echo(Rollouts(ws.meta, ws.registry).abort(app, reason=reason).reason)
