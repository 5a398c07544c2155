"""``ctml``: the command line."""

from __future__ import annotations

from typing import Any

import click

from ctml.cli._context import make_state
from ctml.errors import CtmlError

__all__ = ["cli", "main"]


class _Group(click.Group):
    """The one error boundary: a ctml error becomes one readable line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CtmlError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--home", envvar="CTML_HOME", help="Folder for embedded state (default ./.ctml).")
@click.option("--meta-url", envvar="CTML_META_URL", help="Metadata store URL: sqlite:///path or postgresql://...")
@click.option("--artifact-url", envvar="CTML_ARTIFACT_URL", help="Artifact store URL: a path, file:// or s3://...")
@click.version_option(package_name="ctml")
@click.pass_context
def cli(ctx: click.Context, home: str | None, meta_url: str | None, artifact_url: str | None) -> None:
    """ctml keeps production models fresh: detect, retrain, validate, roll out, watch, roll back.

    State lives under ./.ctml by default (SQLite + local files); point --meta-url at PostgreSQL and
    --artifact-url at S3 to share it.
    """
    state = make_state(home, meta_url, artifact_url)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _register() -> None:
    from ctml.cli import (
        _backtest,
        _bench_backtest,
        _bench_detectors,
        _bench_drift,
        _bench_ingest,
        _bench_pipeline,
        _bench_serve,
        _bench_training,
        _bench_ui,
        _controller,
        _data,
        _db,
        _demo,
        _drift,
        _events,
        _init,
        _lineage,
        _models,
        _monitor,
        _pipeline,
        _rollout,
        _runs,
        _serve,
        _ui,
    )
    from ctml.cli._bench import bench

    cli.add_command(_runs.runs)
    cli.add_command(_models.models)
    _models.models.add_command(_rollout.promote)
    _models.models.add_command(_rollout.rollback)
    cli.add_command(_rollout.rollout)
    cli.add_command(_monitor.monitor)
    cli.add_command(_controller.controller)
    cli.add_command(_backtest.backtest)
    cli.add_command(_lineage.lineage)
    cli.add_command(_db.db)
    cli.add_command(_data.data)
    cli.add_command(_drift.drift)
    cli.add_command(_pipeline.run)
    cli.add_command(_demo.demo)
    cli.add_command(_init.init)
    cli.add_command(_init.app)
    cli.add_command(_serve.serve)
    cli.add_command(_serve.tokens)
    cli.add_command(_events.events)
    cli.add_command(_ui.ui)
    bench.add_command(_bench_ingest.ingest)
    bench.add_command(_bench_drift.drift)
    bench.add_command(_bench_detectors.detectors)
    bench.add_command(_bench_pipeline.pipeline)
    bench.add_command(_bench_serve.serve)
    bench.add_command(_bench_training.training)
    bench.add_command(_bench_backtest.backtest)
    bench.add_command(_bench_ui.ui)
    cli.add_command(bench)


_register()


def main() -> None:
    cli(prog_name="ctml")
