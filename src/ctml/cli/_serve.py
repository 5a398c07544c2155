"""``ctml serve``: serve registry aliases over HTTP; ``ctml tokens``: API tokens for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ctml.cli._context import State, pass_state
from ctml.cli._output import emit_json, table, when

if TYPE_CHECKING:
    from ctml.serve import ModelServer

__all__ = ["serve", "tokens"]


@click.command()
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="NAME=MODEL[:ALIAS]",
    help="An app to serve at /v1/apps/NAME: the model's ALIAS (default champion). Repeat for more apps.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--poll",
    "poll_s",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds between reads of aliases and route tables (SIGHUP: now).",
)
@click.option("--require-token-for-predict", is_flag=True, help="Predict and feedback need a 'predict' token.")
@click.option("--no-ui", is_flag=True, help="Do not mount the dashboard at /ui.")
@click.option(
    "--no-fast-path",
    is_flag=True,
    help="Answer every model through its library's own calls, without ctml's verified linear NumPy path.",
)
@click.option(
    "--log-capacity",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Predictions queued before new ones are dropped (and counted).",
)
@click.option(
    "--learn/--no-learn",
    default=True,
    show_default=True,
    help="Update versions that can learn (River, partial_fit) from feedback labels. With several servers, one "
    "learns and the others run --no-learn: they serve its newest snapshot, reloaded at each poll.",
)
@click.option(
    "--snapshot-labels",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Write a learning version's state as a snapshot after this many labels...",
)
@click.option(
    "--snapshot-s",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="...or after this many seconds with labels learned since the last one (and on a clean stop).",
)
@pass_state
def serve(
    state: State,
    apps: tuple[str, ...],
    host: str,
    port: int,
    poll_s: float,
    require_token_for_predict: bool,
    no_ui: bool,
    no_fast_path: bool,
    log_capacity: int,
    learn: bool,
    snapshot_labels: int,
    snapshot_s: float,
) -> None:
    """Serve model aliases: POST /v1/apps/NAME/predict and /feedback, /healthz, /readyz, /metrics, /openapi.json.

    Every prediction is logged to the metadata store without blocking the request; a moved alias is loaded,
    verified and warmed in the background, then swapped in. See docs/serving.md.
    """
    from ctml.serve import AppSpec, ModelServer, ServeConfig, run_server

    if not apps:
        raise click.UsageError("Name at least one app: --app NAME=MODEL[:ALIAS].")
    config = ServeConfig(
        [AppSpec.parse(a) for a in apps],
        poll_s=poll_s,
        log_capacity=log_capacity,
        require_token_for_predict=require_token_for_predict,
        fast_path=not no_fast_path,
        actor=state.settings.actor,
        learn=learn,
        snapshot_labels=snapshot_labels,
        snapshot_s=snapshot_s,
    )
    server = ModelServer(config, state.workspace.registry, clock=state.workspace.meta.clock)
    if not no_ui:
        _mount_dashboard(server, state)
    click.echo(f"Serving {', '.join(a.name for a in config.apps)} on http://{host}:{port}", err=True)
    run_server(server, host=host, port=port)


def _mount_dashboard(server: ModelServer, state: State) -> None:
    """The dashboard at /ui. ctml.dashboard sits above ctml.serve, so the command joins the two; the server's
    token rule leaves /ui open and the dashboard checks tokens on its own actions."""
    from ctml.dashboard import create_dashboard

    server.app.mount("/ui", create_dashboard(state.workspace))


@click.group()
def tokens() -> None:
    """API tokens for `ctml serve`: stored hashed (sha256) in the metadata store."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(["read", "predict", "operate", "admin"]))
@click.option("--name", default="", help="What the token is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def create(state: State, role: str, name: str, as_json: bool) -> None:
    """Make a token; its secret is printed once and never stored."""
    from ctml.serve import create_token

    token, secret = create_token(state.workspace.meta, role, name)
    if as_json:
        emit_json({"id": token.id, "name": token.name, "role": token.role, "token": secret})
    else:
        click.echo(secret)
        click.echo(f"(token {token.id}, role {role}: keep the secret now, it cannot be shown again)", err=True)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def list_tokens(state: State, as_json: bool) -> None:
    """Every token (never its secret)."""
    found = state.workspace.meta.tokens.list()
    if as_json:
        emit_json([{"id": t.id, "name": t.name, "role": t.role, "revoked": t.revoked_at is not None} for t in found])
        return
    table(
        f"API tokens ({len(found)})",
        ["id", "name", "role", "created", "revoked"],
        [(t.id, t.name, t.role, when(t.created_at), when(t.revoked_at) if t.revoked_at else "") for t in found],
    )


@tokens.command("revoke")
@click.argument("token_id")
@pass_state
def revoke(state: State, token_id: str) -> None:
    """Revoke a token by id; servers stop taking it within one poll."""
    token = state.workspace.meta.tokens.revoke(token_id)
    click.echo(f"Revoked {token.id} ({token.role}).")
