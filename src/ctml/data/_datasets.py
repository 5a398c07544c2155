"""Datasets: ingest sources into immutable versions, list and read them, and resolve windows over history.

>>> import tempfile, pyarrow as pa
>>> from ctml.meta import open_meta
>>> from ctml.store import open_store
>>> home = tempfile.mkdtemp()
>>> datasets = Datasets(open_meta(f"sqlite:///{home}/meta.db"), open_store(f"{home}/artifacts"))
>>> first = datasets.add("sales", pa.table({"units": [3, 5, 8]}))
>>> again = datasets.add("sales", pa.table({"units": [3, 5, 8]}))
>>> first.versions[0].version, again.versions[0].version, again.outcomes[0].is_new
(1, 1, False)
>>> datasets.read("sales@1").column("units").to_pylist()
[3, 5, 8]
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ctml.data._findings import Report
from ctml.data._formats import WiderType
from ctml.data._ingest import Outcome, store_batches
from ctml.data._schema import Schema
from ctml.data._sources import Chunk, MemorySource, Source
from ctml.data._windows import Window
from ctml.drift import DatasetProfile
from ctml.errors import ConfigError, NotFoundError
from ctml.meta import DatasetVersion, MetaStore
from ctml.store import ArtifactStore
from ctml.types import JSON, JSONObject

__all__ = ["Datasets", "IngestResult", "Progress"]

_MAX_WIDENINGS = 16

Progress = Callable[[Chunk, int], None]
"""Called with the chunk being read and the rows read from it so far."""


@dataclass(frozen=True)
class IngestResult:
    dataset: str
    outcomes: tuple[Outcome, ...] = ()
    skipped: int = 0
    """Keys the source's watermark held before this run: files (or the SQL cursor) ingested earlier."""

    @property
    def versions(self) -> list[DatasetVersion]:
        return [o.version for o in self.outcomes if o.version is not None]

    @property
    def new_versions(self) -> list[DatasetVersion]:
        return [o.version for o in self.outcomes if o.version is not None and o.is_new]

    @property
    def rejected(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.accepted]

    @property
    def kept(self) -> list[Outcome]:
        """Batches that failed validation and were stored anyway (``keep_invalid``)."""
        return [o for o in self.outcomes if o.accepted and o.failed_validation]

    @property
    def ok(self) -> bool:
        return not self.rejected

    def as_dict(self) -> JSONObject:
        outcomes: list[JSON] = [o.as_dict() for o in self.outcomes]
        return {
            "dataset": self.dataset,
            "ok": self.ok,
            "new_versions": len(self.new_versions),
            "skipped": self.skipped,
            "outcomes": outcomes,
        }


class Datasets:
    """Immutable, content-addressed dataset versions over a metadata store and an artifact store."""

    def __init__(self, meta: MetaStore, artifacts: ArtifactStore, *, actor: str = "unknown") -> None:
        self.meta = meta
        self.artifacts = artifacts
        self.actor = actor

    def ingest(
        self,
        dataset: str,
        source: Source,
        *,
        reference: Schema | None = None,
        validate: bool = True,
        target: str | None = None,
        time_column: str | None = None,
        progress: Progress | None = None,
        app: str | None = None,
        keep_invalid: bool = False,
    ) -> IngestResult:
        """Ingest what ``source`` has that its watermark has not seen; one version per chunk (file, query).

        Each chunk is validated against ``reference`` or, by default, against the schema of the dataset so far
        (the latest version's); a chunk with a ``fail`` finding is not stored and its watermark does not move,
        so it is retried after it is fixed. ``validate=False`` stores without checking. ``app`` names the app whose
        source this is, so a rejection (a ``validation`` decision) is listed with the app's other decisions.
        ``keep_invalid`` stores a readable batch that fails validation anyway, its findings still recorded.
        """
        mark_source = _mark_source(dataset, source)
        marks = {key: mark.token for key, mark in self.meta.watermarks.get(mark_source).items()}
        chunks = source.pending(marks)
        outcomes: list[Outcome] = []
        for chunk in chunks:
            base = self._latest_schema(dataset)
            check = reference if reference is not None else base
            pinned = reference or base
            types = pinned.arrow_types() if pinned is not None else {}
            report_rows = None if progress is None else (lambda rows, c=chunk: progress(c, rows))
            for _ in range(_MAX_WIDENINGS):
                try:
                    outcome = store_batches(
                        self.meta,
                        self.artifacts,
                        dataset,
                        chunk.batches(types),
                        label=chunk.key or chunk.description.get("kind", "batch"),  # type: ignore[arg-type]
                        source=chunk.description,
                        reference=check if validate else None,
                        base=base,
                        target=target or (base.target if base else None),
                        time_column=time_column or (base.time_column if base else None),
                        allow_empty=chunk.description.get("kind") == "sql",
                        progress=report_rows,
                        sketch_reference=self.sketch_reference(dataset),
                        keep_invalid=keep_invalid,
                    )
                    break
                except WiderType as wider:  # a later block needs a wider type than the first block showed
                    types = {**types, wider.column: wider.type}
            else:
                raise ConfigError(f"{chunk.key}: column types kept changing while reading; pass them explicitly.")
            if outcome.version is None and outcome.report is None:
                continue  # a query with no new rows
            outcomes.append(outcome)
            if outcome.failed_validation:
                assert outcome.report is not None
                self._record_rejection(dataset, outcome.report, app, kept=outcome.accepted)
            if outcome.version is not None and chunk.key:
                self.meta.watermarks.advance(mark_source, {chunk.key: chunk.token}, outcome.version.id)
        return IngestResult(dataset, tuple(outcomes), skipped=len(marks))

    def _record_rejection(self, dataset: str, report: Report, app: str | None, *, kept: bool) -> None:
        """A rejected batch is a decision with its evidence, listed with the other decisions (kind validation);
        ``kept``: it was stored anyway."""
        evidence: JSONObject = {"dataset": dataset, "kept": kept, **report.as_dict()}
        self.meta.decisions.record("validation", "rejected", report.summary(), evidence, app=app, actor=self.actor)

    def add(self, dataset: str, data: Any, **options: Any) -> IngestResult:
        """Ingest in-memory data (pyarrow, pandas, polars, numpy, a dict of columns) as one version."""
        return self.ingest(dataset, MemorySource(data), **options)

    def versions(self, dataset: str | None = None, *, limit: int = 100) -> list[DatasetVersion]:
        """Versions, newest first."""
        return self.meta.datasets.list(dataset, limit=limit)

    def get(self, ref: str) -> DatasetVersion:
        """A version by ``name``, ``name@3``, ``name@v3``, ``name@latest`` or its id."""
        name, _, which = ref.partition("@")
        if not which:
            found = self.meta.datasets.list(name, limit=1)
            if found:
                return found[0]
            try:
                return self.meta.datasets.get(ref)
            except NotFoundError:
                raise NotFoundError(
                    f"No dataset or dataset version {ref!r}. List them with `ctml data versions`."
                ) from None
        if which == "latest":
            return self.get(name)
        number = which[1:] if which[:1] in ("v", "V") else which
        if not number.isdigit():
            raise ConfigError(f"A version reference is NAME@N, NAME@vN or NAME@latest. Got {ref!r}.")
        for version in self._all(name):
            if version.version == int(number):
                return version
        raise NotFoundError(f"Dataset {name!r} has no version {number}. List them with `ctml data versions {name}`.")

    def schema(self, ref: str | DatasetVersion) -> Schema:
        """The schema stored with a version; for a bare dataset name, the schema of all it has ingested so far."""
        if isinstance(ref, str) and "@" not in ref:
            latest = self._latest_schema(ref)
            if latest is not None:
                return latest
        version = self.get(ref) if isinstance(ref, str) else ref
        if version.schema is None:
            raise NotFoundError(f"Dataset version {version.dataset}@{version.version} has no stored schema.")
        return Schema.from_dict(version.schema)

    def batches(self, ref: str | DatasetVersion) -> Iterator[pa.RecordBatch]:
        """The rows of a version, verified against the store's digest, batch by batch."""
        version = self.get(ref) if isinstance(ref, str) else ref
        if version.artifact_digest is None:
            raise NotFoundError(f"Dataset version {version.dataset}@{version.version} has no stored data.")
        with tempfile.TemporaryDirectory(prefix="ctml-read-") as folder:
            path = self.artifacts.get_file(version.artifact_digest, Path(folder) / "data.parquet")
            handle = pq.ParquetFile(path)
            try:
                yield from handle.iter_batches(batch_size=1 << 17)
            finally:
                handle.close()

    def read(self, ref: str | DatasetVersion) -> pa.Table:
        version = self.get(ref) if isinstance(ref, str) else ref
        return pa.Table.from_batches(list(self.batches(version)))

    def window(self, dataset: str, window: Window) -> DatasetVersion:
        """The window as a derived version of ``dataset`` whose parents are the versions it drew from."""
        base = [v for v in reversed(self._all(dataset)) if (v.source or {}).get("kind") != "window"]
        if not base:
            raise NotFoundError(f"Dataset {dataset!r} has no ingested versions to take a window of.")
        chosen, rows_filter = self._select(dataset, base, window)
        if not chosen:
            raise NotFoundError(f"No versions of {dataset!r} fall in the window {window.describe()}.")
        last_schema = self.schema(base[-1])
        outcome = store_batches(
            self.meta,
            self.artifacts,
            dataset,
            rows_filter(chosen),
            label=window.describe(),
            source={"kind": "window", "window": window.key(), "parents": [f"{dataset}@{v.version}" for v in chosen]},
            target=last_schema.target,
            time_column=last_schema.time_column,
            parents=[v.id for v in chosen],
            sketch_reference=self.sketch_reference(dataset),
        )
        if outcome.version is None:
            raise ConfigError(f"The window {window.describe()} of {dataset!r} holds no rows.")
        return outcome.version

    def _select(
        self, dataset: str, base: list[DatasetVersion], window: Window
    ) -> tuple[list[DatasetVersion], Callable[[list[DatasetVersion]], Iterator[pa.RecordBatch]]]:
        if window.kind == "all":
            return base, self._concat
        if window.kind == "since":
            assert window.since is not None
            ref = window.since if "@" in window.since else f"{dataset}@{window.since}"
            start = self.get(ref).version
            return [v for v in base if v.version > start], self._concat
        if window.kind == "rows":
            assert window.rows is not None
            chosen: list[DatasetVersion] = []
            total = 0
            for version in reversed(base):
                chosen.insert(0, version)
                total += version.rows
                if total >= window.rows:
                    break
            skip = max(0, total - window.rows)
            return chosen, lambda versions: _skip(self._concat(versions), skip)
        column = self.schema(base[-1]).time_column
        if column is None:
            raise ConfigError(
                f"Dataset {dataset!r} has no time column, so a time window cannot be cut. Re-ingest with "
                "time_column=... (--time-column), or use a rows window such as last:10000."
            )
        assert window.span is not None
        ends = [_parse_time(v.time_max) for v in base]
        if all(e is None for e in ends):
            raise ConfigError(f"No version of {dataset!r} recorded a time range for {column!r}; re-ingest it.")
        latest = max(e for e in ends if e is not None)
        cutoff = latest - window.span
        chosen = [v for v, end in zip(base, ends, strict=True) if end is not None and end >= cutoff]
        return chosen, lambda versions: _after(self._concat(versions), column, cutoff)

    def _concat(self, versions: list[DatasetVersion]) -> Iterator[pa.RecordBatch]:
        schema: pa.Schema | None = None
        for version in versions:
            for stored in self.batches(version):
                if schema is None:
                    schema = stored.schema
                yield stored if stored.schema == schema else _conform(stored, schema, version)

    def _all(self, dataset: str) -> list[DatasetVersion]:
        return self.meta.datasets.list(dataset, limit=1_000_000)

    def sketch_reference(self, dataset: str) -> DatasetProfile | None:
        """The drift profile of the dataset's first version: every later version takes its histogram edges."""
        first = self.meta.datasets.list(dataset, limit=1_000_000)
        stored = (first[-1].profile or {}).get("drift") if first else None
        if not isinstance(stored, dict) or "format" not in stored:
            return None  # a version stored before sketches were kept, or one with no rows
        return DatasetProfile.from_json(stored)

    def _latest_schema(self, dataset: str) -> Schema | None:
        for version in self.meta.datasets.list(dataset, limit=50):
            if version.schema is not None and (version.source or {}).get("kind") != "window":
                return Schema.from_dict(version.schema)
        return None


def _mark_source(dataset: str, source: Source) -> str:
    """The watermark's name: per dataset and source, within the 255 characters the table allows."""
    name = f"{dataset}|{source.name}"
    if len(name) <= 255:
        return name
    return name[:200] + "#" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _parse_time(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text) if ("T" in text or " " in text) else date.fromisoformat(text)
    except ValueError:
        return None


def _skip(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows)
        rows = 0


def _after(batches: Iterator[pa.RecordBatch], column: str, cutoff: Any) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        values = batch.column(column)
        yield batch.filter(pc.greater_equal(values, pa.scalar(cutoff, type=values.type)))


def _conform(batch: pa.RecordBatch, schema: pa.Schema, version: DatasetVersion) -> pa.RecordBatch:
    try:
        return pa.RecordBatch.from_arrays([batch.column(f.name).cast(f.type) for f in schema], schema=schema)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConfigError(
            f"Version {version.dataset}@{version.version} has columns {batch.schema.names} that cannot be joined "
            f"with the earlier {schema.names} in one window ({exc}). Take a window that starts after it."
        ) from exc
