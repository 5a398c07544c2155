"""``ctml run MODULE:PIPELINE``: run (or resume) a pipeline with a live display of its steps."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ctml.cli._context import State, pass_state
from ctml.cli._output import console, emit_json, seconds, table
from ctml.errors import ConfigError
from ctml.pipeline import Observer, Pipeline, StepEvent

__all__ = ["run"]

_MARKS = {"finished": "[green]done[/]", "cached": "[cyan]cache hit[/]", "resumed": "[cyan]resumed[/]"}


@click.command("run")
@click.argument("target", metavar="MODULE:PIPELINE")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A pipeline param (JSON or text).")
@click.option("--seed", type=int, default=0, show_default=True, help="The run's seed, given to steps taking `seed`.")
@click.option("--executor", default="inline", show_default=True, help="inline, process://?workers=N")
@click.option("--resume", "resume_id", metavar="RUN_ID", help="Resume this run from its last finished steps.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
def run(
    state: State, target: str, params: tuple[str, ...], seed: int, executor: str, resume_id: str | None, as_json: bool
) -> None:
    """Run the Pipeline object PIPELINE of the Python module MODULE (imported from the current folder).

    Every run records its steps, params, seed, environment, git commit, outputs and lineage; unchanged steps
    are cache hits. A killed run resumes with --resume RUN_ID. See `ctml runs show RUN_ID` afterwards.
    """
    pipeline = load_pipeline(target)
    values = dict(_param(text) for text in params)
    if resume_id and (values or seed):
        raise ConfigError("--resume keeps the run's own params and seed; leave out --param and --seed.")
    ws = state.workspace
    with _display(enabled=not as_json, total=len(pipeline.steps)) as observe:
        if resume_id:
            result = pipeline.resume(ws.meta, ws.artifacts, resume_id, executor=executor, observer=observe)
        else:
            result = pipeline.run(ws.meta, ws.artifacts, params=values, seed=seed, executor=executor, observer=observe)
    if as_json:
        emit_json(
            {
                "run_id": result.run_id,
                "status": "finished",
                "outputs": result.outputs,
                "cached": result.cached,
                "resumed": result.resumed,
            }
        )
        return
    rows = ws.meta.steps.list(result.run_id)
    table(
        f"Run {result.run_id} ({pipeline.name}) finished",
        ["step", "status", "attempt", "duration", "cache", "output"],
        [
            (
                s.name,
                s.status,
                s.attempt,
                seconds(s.duration_s),
                "hit" if s.cached else "",
                _short(result, s.name),
            )
            for s in rows
        ],
    )


def load_pipeline(target: str) -> Pipeline:
    """The Pipeline named by ``module:attribute``; the current folder is importable, as with ``python -m``."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"Name a pipeline as MODULE:PIPELINE, for example flows.train:pipeline. Got {target!r}.")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"Cannot import module {module_name!r} for {target!r}: {exc}.") from None
    found: Any = getattr(module, attribute, None)
    if not isinstance(found, Pipeline):
        what = "nothing" if found is None else f"a {type(found).__name__}"
        raise ConfigError(f"{target} should be a ctml.pipeline.Pipeline, but {module_name}.{attribute} is {what}.")
    return found


def _param(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise ConfigError(f"A --param is NAME=VALUE, like --param alpha=0.5. Got {text!r}.")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def _short(result: Any, name: str) -> str:
    digest = result.outputs.get(name)
    return digest[:12] if isinstance(digest, str) else ""


@contextmanager
def _display(*, enabled: bool, total: int) -> Iterator[Observer | None]:
    """Each step's progress on stderr: a bar over the pipeline's steps and a line as each step ends."""
    if not enabled:
        yield None
        return
    out = console(stderr=True)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    )
    overall = bar.add_task("starting", total=total)

    def observe(event: StepEvent) -> None:
        name = escape(event.step)  # partitions are named like fit[paris], which rich would read as markup
        # Started on the first event, so errors found before any step runs print without a blank display.
        if not bar.live.is_started:
            bar.start()
        partition = "[" in event.step
        if event.kind == "started":
            bar.update(overall, description=f"{name} (attempt {event.attempt})")
        elif event.kind in _MARKS:
            if not partition:
                bar.advance(overall)
            bar.console.print(f"  {_MARKS[event.kind]:<22} {name}")
        elif event.kind == "retrying":
            bar.console.print(
                f"  [yellow]retrying[/]  {name} after attempt {event.attempt}: {escape(event.error or '')}"
            )
        elif event.kind == "failed":
            bar.console.print(f"  [red]failed[/]    {name}: {escape(event.error or '')}")

    try:
        yield observe
    finally:
        if bar.live.is_started:
            bar.stop()
