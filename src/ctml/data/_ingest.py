"""Turning a stream of record batches into one immutable dataset version, in bounded memory.

Batches go to a temporary Parquet file (zstd) while their content digest, profile and (when there is a
reference) validation are computed on the same pass. Only when the stream ends cleanly and validation
passed is the file put in the artifact store and the version committed; so a crash, a read error or a
``fail`` finding leaves nothing behind. The store writes by rename and the metadata by one transaction, and
re-committing the same content is a no-op, so a kill at any point leaves the next ingest a clean start.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ctml.data._digest import ContentDigest
from ctml.data._findings import Finding, Report
from ctml.data._formats import WiderType
from ctml.data._profile import Profile
from ctml.data._schema import Schema, merge_schemas, schema_from_profile
from ctml.data._sketch import StreamSketch
from ctml.data._validate import Validator
from ctml.drift import DatasetProfile
from ctml.errors import ConfigError
from ctml.meta import DatasetVersion, MetaStore
from ctml.store import ArtifactStore
from ctml.types import JSONObject

__all__ = ["Outcome", "RowProgress", "store_batches"]

_GROUP_ROWS = 1 << 20
_GROUP_BYTES = 128 << 20

RowProgress = Callable[[int], None]
"""Called with the rows written so far after each batch."""


@dataclass(frozen=True)
class Outcome:
    """What became of one chunk: a version (new or existing), or a rejection with its report."""

    label: str
    version: DatasetVersion | None
    is_new: bool
    report: Report | None

    @property
    def accepted(self) -> bool:
        return self.version is not None

    @property
    def failed_validation(self) -> bool:
        """Validation failed: the batch was rejected, or stored anyway (``keep_invalid``)."""
        return self.report is not None and not self.report.passed

    def as_dict(self) -> JSONObject:
        return {
            "source": self.label,
            "accepted": self.accepted,
            "new": self.is_new,
            "version": None if self.version is None else f"{self.version.dataset}@{self.version.version}",
            "version_id": None if self.version is None else self.version.id,
            "rows": None if self.version is None else self.version.rows,
            "report": None if self.report is None else self.report.as_dict(),
        }


def store_batches(
    meta: MetaStore,
    artifacts: ArtifactStore,
    dataset: str,
    batches: Iterable[pa.RecordBatch],
    *,
    label: str,
    source: JSONObject,
    reference: Schema | None = None,
    base: Schema | None = None,
    target: str | None = None,
    time_column: str | None = None,
    parents: list[str] | None = None,
    allow_empty: bool = False,
    progress: RowProgress | None = None,
    sketch_reference: DatasetProfile | None = None,
    keep_invalid: bool = False,
) -> Outcome:
    """Write ``batches`` as a version of ``dataset`` unless validation against ``reference`` fails (with
    ``keep_invalid``, a readable, non-empty batch is written anyway and its failing report returned with it).

    ``base`` is the schema so far (the previous version's); the new version's schema is ``base`` widened by
    this batch. An empty stream is rejected (or, with ``allow_empty``, yields no version and no report).
    """
    validator = Validator(reference, source=label) if reference is not None else None
    with tempfile.TemporaryDirectory(prefix="ctml-ingest-") as folder:
        path = Path(folder) / "data.parquet"
        writer: Any = None
        digest: ContentDigest | None = None
        profile: Profile | None = None
        sketch = StreamSketch(sketch_reference)
        pending: list[pa.RecordBatch] = []
        try:
            try:
                for raw in _prefetch(batches):
                    batch = _storable(raw)
                    if profile is None:
                        digest, profile = ContentDigest(batch.schema), Profile(batch.schema)
                    profile.update(batch)
                    if batch.num_rows:
                        sketch.update(batch)
                    if writer is None:
                        writer = pq.ParquetWriter(
                            path, batch.schema, compression="zstd", use_dictionary=_dictionary_columns(profile)
                        )
                    assert digest is not None
                    if batch.num_rows:
                        pending.append(batch)
                        _flush(writer, pending, final=False)
                    digest.update(batch)
                    if validator is not None:
                        validator.update(batch)
                    if progress is not None:
                        progress(digest.rows)
                if writer is not None:
                    _flush(writer, pending, final=True)
            finally:
                if writer is not None:
                    writer.close()
        except WiderType:
            raise  # the caller reads the chunk again with the wider type
        except ConfigError as exc:
            return _rejected(label, validator, "readable", str(exc))
        if allow_empty and (digest is None or digest.rows == 0):
            return Outcome(label, None, False, None)
        if validator is not None:
            report = validator.report()
            if not report.passed and not keep_invalid:
                return Outcome(label, None, False, report)
        if digest is None or profile is None or digest.rows == 0:
            return _rejected(label, validator, "empty", f"{label} has no rows; an empty batch is never stored.")
        artifact = artifacts.put_file(path)
    batch_schema = schema_from_profile(
        profile, target=target, time_column=time_column, expectations=None if base is None else base.expectations
    )
    schema = batch_schema if base is None else merge_schemas(base, batch_schema)
    low, high = _time_range(profile, schema.time_column)
    version, is_new = meta.datasets.add_version(
        dataset,
        digest.hexdigest(),
        digest.rows,
        artifact_digest=artifact,
        schema=schema.as_dict(),
        profile={**profile.as_dict(), "drift": sketch.as_json()},
        source=source,
        time_min=low,
        time_max=high,
        parents=parents,
    )
    return Outcome(label, version, is_new, None if validator is None else validator.report())


def _dictionary_columns(profile: Profile) -> list[str]:
    """Dictionary-encode text and columns with few values in the first batch; trying it on every float column
    and falling back costs about 10% of the write."""
    return [
        name
        for name, column in profile.columns.items()
        if column.categories is not None or column.type in ("string", "large_string")
    ]


def _storable(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Parquet has no seconds unit: keep second timestamps as milliseconds from the start, so the digest of the
    ingested rows is the digest of the rows read back."""
    fields = batch.schema
    if not any(pa.types.is_timestamp(f.type) and f.type.unit == "s" for f in fields):
        return batch
    columns = [
        c.cast(pa.timestamp("ms", tz=f.type.tz)) if pa.types.is_timestamp(f.type) and f.type.unit == "s" else c
        for f, c in zip(fields, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=fields.names)


def _flush(writer: Any, pending: list[pa.RecordBatch], *, final: bool) -> None:
    """Write buffered batches as one row group once it is big enough: small row groups write 2x slower."""
    rows = sum(b.num_rows for b in pending)
    if pending and (final or rows >= _GROUP_ROWS or sum(b.nbytes for b in pending) >= _GROUP_BYTES):
        writer.write_table(pa.Table.from_batches(pending), row_group_size=rows)
        pending.clear()


def _prefetch(batches: Iterable[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Parse the next block on a thread while this one is written: both release the GIL."""
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(("batch", batch), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it with its traceback
            slots.put(("error", exc))

    worker = threading.Thread(target=produce, name="ctml-ingest-read", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def _rejected(label: str, validator: Validator | None, check: str, message: str) -> Outcome:
    if validator is None:
        return Outcome(label, None, False, Report((Finding(check, "fail", message),), source=label))
    validator.fail(check, message)
    return Outcome(label, None, False, validator.report())


def _time_range(profile: Profile, column: str | None) -> tuple[str | None, str | None]:
    if column is None or column not in profile.columns:
        return None, None
    stats = profile.columns[column]
    return _iso(stats.min), _iso(stats.max)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
