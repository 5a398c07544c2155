"""``ctml models``: list, show and move aliases."""

from __future__ import annotations

import click

from ctml.cli._context import State, pass_state
from ctml.cli._output import emit_json, table, when
from ctml.meta import ANY_REVISION

__all__ = ["models"]


@click.group()
def models() -> None:
    """Registered models, their versions and aliases."""


@models.command("list")
@click.option("--app", help="Only models of this app.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def list_models(state: State, app: str | None, as_json: bool) -> None:
    """Every model with its version count and aliases."""
    repo = state.workspace.meta.models
    found = repo.list(app=app)
    entries = [(model, count, repo.aliases(model.name)) for model, count in found]
    if as_json:
        emit_json(
            [{"model": m, "versions": n, "aliases": {a.alias: a.version for a in aliases}} for m, n, aliases in entries]
        )
        return
    table(
        f"Models ({len(found)})",
        ["name", "app", "versions", "aliases", "created"],
        [
            (m.name, m.app or "", n, ", ".join(f"{a.alias}=v{a.version}" for a in al), when(m.created_at))
            for m, n, al in entries
        ],
    )


@models.command("show")
@click.argument("model")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Versions to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def show_model(state: State, model: str, limit: int, as_json: bool) -> None:
    """Versions, aliases and the alias history of MODEL."""
    repo = state.workspace.meta.models
    versions = repo.versions(model, limit=limit)
    aliases = repo.aliases(model)
    history = repo.alias_history(model, limit=limit)
    if not versions and not aliases:
        raise click.ClickException(f"No model named {model!r}. See `ctml models list`.")
    if as_json:
        emit_json({"model": model, "versions": versions, "aliases": aliases, "alias_history": history})
        return
    by_version: dict[int, list[str]] = {}
    for target in aliases:
        if target.version is not None:
            by_version.setdefault(target.version, []).append(target.alias)
    table(
        f"{model}: versions",
        ["version", "aliases", "flavor", "run", "metrics", "created", "by"],
        [
            (
                f"v{v.version}",
                ", ".join(by_version.get(v.version, [])),
                v.flavor or "",
                v.run_id or "",
                ", ".join(f"{k}={x:.4g}" for k, x in sorted(v.metrics.items())[:3]),
                when(v.created_at),
                v.actor,
            )
            for v in versions
        ],
    )
    if history:
        table(
            f"{model}: alias history (newest first)",
            ["when", "alias", "move", "rev", "by", "why"],
            [
                (
                    when(h.at),
                    h.alias,
                    f"v{h.from_version or '-'} -> v{h.to_version or '-'}",
                    h.revision,
                    h.actor,
                    h.reason,
                )
                for h in history
            ],
        )


@models.command("alias")
@click.argument("model")
@click.argument("alias")
@click.argument("version", type=int)
@click.option("--expect-revision", type=int, default=None, help="Only move if the alias is still at this revision.")
@click.option("--reason", default="", help="Why: recorded in the alias history and the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def set_alias(
    state: State, model: str, alias: str, version: int, expect_revision: int | None, reason: str, as_json: bool
) -> None:
    """Point ALIAS of MODEL at VERSION (atomic; recorded with who and why)."""
    target = state.workspace.registry.promote(
        model,
        version,
        alias,
        expected_revision=ANY_REVISION if expect_revision is None else expect_revision,
        reason=reason,
    )
    if as_json:
        emit_json(target)
    else:
        click.echo(f"{model}@{alias} -> v{target.version} (revision {target.revision})")
