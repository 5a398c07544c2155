"""``ctml data``: ingest sources into dataset versions, list them, infer schemas, validate batches, cut windows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from ctml.cli._context import State, pass_state
from ctml.cli._output import console, emit_json, table, when
from ctml.data import (
    Chunk,
    Datasets,
    FileSource,
    ReadOptions,
    Report,
    Schema,
    Source,
    SqlSource,
    Window,
    infer_schema,
    read_table,
    validate_file,
)
from ctml.data import Progress as ProgressCallback
from ctml.errors import ConfigError

__all__ = ["data"]

_COLORS = {"fail": "red", "warn": "yellow", "info": "cyan"}


def _read_options(fmt: str | None, delimiter: str | None, encoding: str) -> ReadOptions:
    return ReadOptions(format=fmt, delimiter=delimiter, encoding=encoding)


def _format_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--encoding", default="utf8", show_default=True, help="Text encoding of CSV files.")(func)
    func = click.option("--delimiter", help="CSV field delimiter (default ',' or tab for .tsv).")(func)
    return click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "jsonl"]), help="Override.")(func)


@click.group()
def data() -> None:
    """Ingest data into immutable dataset versions, and validate batches against a schema."""


@data.command("ingest")
@click.argument("source")
@click.option("--name", "-n", required=True, help="Dataset name.")
@click.option("--table", "sql_table", help="Read this SQL table; SOURCE is then a SQLAlchemy URL.")
@click.option("--cursor", help="With --table: the increasing column that marks what was read.")
@click.option("--target", help="The label column (recorded in the schema).")
@click.option("--time-column", help="The event-time column (default: the first date/time column).")
@click.option("--schema", "schema_file", type=click.Path(exists=True, dir_okay=False), help="Validate against it.")
@click.option("--reference", help="Validate against this version's schema (NAME@N); default: the latest version.")
@click.option("--no-validate", is_flag=True, help="Store without validating.")
@_format_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def ingest(
    state: State,
    source: str,
    name: str,
    sql_table: str | None,
    cursor: str | None,
    target: str | None,
    time_column: str | None,
    schema_file: str | None,
    reference: str | None,
    no_validate: bool,
    fmt: str | None,
    delimiter: str | None,
    encoding: str,
    as_json: bool,
) -> None:
    """Ingest new files matching SOURCE (a path or glob; CSV, Parquet, JSON lines, .gz/.zst), or new SQL rows.

    Each new file becomes one immutable version; files ingested before are skipped (the watermark survives
    restarts), and identical content is the same version. A batch with a `fail` finding is not stored; the
    exit status is then 1.
    """
    datasets = _datasets(state)
    src: Source
    if sql_table is not None:
        if cursor is None:
            raise ConfigError("--table needs --cursor, the column whose growing values mark what was read.")
        src = SqlSource(source, sql_table, cursor)
    else:
        src = FileSource(source, _read_options(fmt, delimiter, encoding))
        if not src.files():
            raise ConfigError(f"No file matches {source!r}. Check the path or quote the glob pattern.")
    check = _reference(datasets, schema_file, reference)
    with _progress(enabled=not as_json) as report:
        result = datasets.ingest(
            name,
            src,
            reference=check,
            validate=not no_validate,
            target=target,
            time_column=time_column,
            progress=report,
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        rows = [
            (
                o.label,
                "-" if o.version is None else f"{o.version.dataset}@{o.version.version}",
                "new" if o.is_new else ("rejected" if o.version is None else "existing"),
                "" if o.version is None else o.version.rows,
            )
            for o in result.outcomes
        ]
        if rows:
            table(f"Ingest into {name!r}", ["source", "version", "status", "rows"], rows)
        click.echo(f"{len(result.new_versions)} new version(s); {result.skipped} file(s) already ingested, skipped.")
        for outcome in result.rejected:
            if outcome.report is not None:
                _show_report(outcome.report)
    if not result.ok:
        raise SystemExit(1)


@data.command("versions")
@click.argument("name", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def versions(state: State, name: str | None, limit: int, as_json: bool) -> None:
    """Dataset versions, newest first."""
    found = _datasets(state).versions(name, limit=limit)
    if as_json:
        emit_json(found)
        return
    rows = [
        (
            f"{v.dataset}@{v.version}",
            v.id,
            v.rows,
            (v.source or {}).get("kind", ""),
            _where(v.source or {}),
            f"{v.time_min or ''} .. {v.time_max or ''}" if v.time_min else "",
            v.digest[:12],
            when(v.created_at),
        )
        for v in found
    ]
    table("Dataset versions", ["version", "id", "rows", "kind", "source", "time range", "digest", "created"], rows)


@data.command("validate")
@click.argument("path", type=click.Path())
@click.option("--reference", help="A dataset version (NAME, NAME@N) whose schema to validate against.")
@click.option("--schema", "schema_file", type=click.Path(exists=True, dir_okay=False), help="A schema TOML file.")
@_format_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def validate_cmd(
    state: State,
    path: str,
    reference: str | None,
    schema_file: str | None,
    fmt: str | None,
    delimiter: str | None,
    encoding: str,
    as_json: bool,
) -> None:
    """Validate the file at PATH against a schema; exit status 1 when a finding is `fail`."""
    if (reference is None) == (schema_file is None):
        raise ConfigError("Pass exactly one of --reference NAME[@N] or --schema FILE.")
    datasets = _datasets(state) if reference else None
    schema = _reference(datasets, schema_file, reference)
    assert schema is not None
    report = validate_file(path, schema, _read_options(fmt, delimiter, encoding))
    if as_json:
        emit_json(report.as_dict())
    else:
        _show_report(report)
    if not report.passed:
        raise SystemExit(1)


@data.command("schema")
@click.argument("source")
@click.option("--target", help="The label column, when inferring from a file.")
@click.option("--time-column", help="The event-time column, when inferring from a file.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the TOML here instead of stdout.")
@_format_options
@pass_state
def schema_cmd(
    state: State,
    source: str,
    target: str | None,
    time_column: str | None,
    output: str | None,
    fmt: str | None,
    delimiter: str | None,
    encoding: str,
) -> None:
    """The schema of SOURCE as TOML: inferred from a file, or the one stored with a version (NAME[@N])."""
    if Path(source).is_file():
        reference = read_table(source, _read_options(fmt, delimiter, encoding))
        schema = infer_schema(reference, target=target, time_column=time_column)
    else:
        schema = _datasets(state).schema(source)
    text = schema.to_toml()
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"Wrote the schema of {len(schema.columns)} columns to {output}.", err=True)


@data.command("window")
@click.argument("name")
@click.argument("window")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def window_cmd(state: State, name: str, window: str, as_json: bool) -> None:
    """Resolve WINDOW (all, last:N, time:7d, since:NAME@N) of dataset NAME to a derived version."""
    version = _datasets(state).window(name, Window.parse(window))
    if as_json:
        emit_json(version)
    else:
        parents = ", ".join((version.source or {}).get("parents", []))  # type: ignore[arg-type]
        click.echo(f"{version.dataset}@{version.version} ({version.rows} rows, id {version.id}) from {parents}")


def _datasets(state: State) -> Datasets:
    workspace = state.workspace
    return Datasets(workspace.meta, workspace.artifacts, actor=state.settings.actor)


def _reference(datasets: Datasets | None, schema_file: str | None, reference: str | None) -> Schema | None:
    if schema_file is not None and reference is not None:
        raise ConfigError("Pass --schema FILE or --reference NAME[@N], not both.")
    if schema_file is not None:
        return Schema.from_toml(Path(schema_file).read_text(encoding="utf-8"))
    if reference is not None:
        assert datasets is not None
        return datasets.schema(reference)
    return None


def _where(source: Mapping[str, object]) -> str:
    for key in ("path", "table", "window", "label"):
        if source.get(key):
            return str(source[key])
    return ""


def _show_report(report: Report) -> None:
    out = console()
    color = "green" if report.passed else "red"
    out.print(f"[bold {color}]{report.summary()}[/]")
    for finding in report.findings:
        where = f" {finding.column}" if finding.column else ""
        out.print(f"  [{_COLORS[finding.severity]}]{finding.severity:<4}[/] {finding.check}{where}: {finding.message}")


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """Rows read per file, on stderr, for long ingests."""
    if not enabled:
        yield None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def report(chunk: Chunk, rows: int) -> None:
        if chunk.key not in tasks:
            tasks[chunk.key] = bar.add_task(Path(chunk.key).name or "batch", total=None)
        bar.update(tasks[chunk.key], completed=rows)

    with bar:
        yield report
