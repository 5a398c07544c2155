"""``ctml lineage``: what produced a thing, and what was produced from it."""

from __future__ import annotations

import click

from ctml.cli._context import State, pass_state
from ctml.cli._output import emit_json, table, when
from ctml.errors import ConfigError
from ctml.meta import Node
from ctml.workspace import Workspace

__all__ = ["lineage"]

_SHORT = {"model": "model_version", "dataset": "dataset_version", "data": "dataset_version"}


def parse_node(text: str, workspace: Workspace) -> Node:
    """``run:ID``, ``model:NAME/3``, ``NAME@champion``, ``dataset:ID`` or a bare run id."""
    if "@" in text and ":" not in text:
        model, alias = text.split("@", 1)
        target = workspace.meta.models.get_alias(model, alias)
        return Node("model_version", f"{model}/{target.version}")
    if ":" in text:
        kind, ident = text.split(":", 1)
        kind = _SHORT.get(kind, kind)
        if kind == "model_version" and "@" in ident:
            return parse_node(ident, workspace)
        return Node(kind, ident)
    if "/" in text:
        return Node("model_version", text)
    return Node("run", text)


@click.command()
@click.argument("node")
@click.option("--up/--down", "upstream", default=True, help="Upstream (what produced it, default) or downstream.")
@click.option("--depth", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def lineage(state: State, node: str, upstream: bool, depth: int, as_json: bool) -> None:
    """Walk lineage from NODE: run:ID, model:NAME/VERSION, NAME@ALIAS, dataset:ID or artifact:DIGEST."""
    workspace = state.workspace
    try:
        start = parse_node(node, workspace)
        repo = workspace.meta.lineage
        edges = repo.upstream(start, depth) if upstream else repo.downstream(start, depth)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if as_json:
        emit_json({"node": str(start), "direction": "up" if upstream else "down", "edges": edges})
        return
    if not edges:
        click.echo(f"No {'upstream' if upstream else 'downstream'} lineage recorded for {start}.")
        return
    table(
        f"Lineage {'into' if upstream else 'out of'} {start}",
        ["from", "relation", "to", "when"],
        [(str(e.src), e.relation, str(e.dst), when(e.created_at)) for e in edges],
    )
