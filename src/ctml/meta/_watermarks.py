"""Source watermarks: what a data source has already delivered, so each file or row is ingested once.

A source is named (``files:/data/*.csv``, ``sql:orders``); under it each key (a file path, ``cursor``) holds a
token (canonical JSON: a file's size and digest, the last cursor value) and the dataset version it went into.
Marks survive restarts because they live in the metadata store; a mark is only written after its dataset
version is committed, and re-ingesting content is idempotent by digest, so a crash between the two is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from ctml.errors import ConfigError
from ctml.meta._records import dump, load, must_ms
from ctml.meta._schema import source_watermarks
from ctml.meta._tx import Repo
from ctml.types import JSON

__all__ = ["Watermark", "WatermarkRepo"]


@dataclass(frozen=True)
class Watermark:
    source: str
    key: str
    token: JSON
    dataset_version_id: str | None
    updated_at: datetime


class WatermarkRepo(Repo):
    def get(self, source: str) -> dict[str, Watermark]:
        """Every mark of ``source``, by key."""
        with self._read() as conn:
            rows = conn.execute(select(source_watermarks).where(source_watermarks.c.source == source))
            return {
                r.key: Watermark(r.source, r.key, load(r.token), r.dataset_version_id, must_ms(r.updated_ms))
                for r in rows
            }

    def advance(self, source: str, marks: dict[str, JSON], dataset_version_id: str | None = None) -> None:
        """Set the marks of ``source`` (insert or replace each key) in one transaction."""
        if not source or len(source) > 255:
            raise ConfigError(f"A source name must be a non-empty string of at most 255 characters. Got {source!r}.")
        if not marks:
            return
        now_ms = self._now_ms()
        stmt = self._upsert(source_watermarks)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "key"],
            set_={
                "token": stmt.excluded.token,
                "dataset_version_id": stmt.excluded.dataset_version_id,
                "updated_ms": stmt.excluded.updated_ms,
            },
        )
        rows = [
            {
                "source": source,
                "key": key,
                "token": dump(token),
                "dataset_version_id": dataset_version_id,
                "updated_ms": now_ms,
            }
            for key, token in marks.items()
        ]
        with self._write() as conn:
            conn.execute(stmt, rows)

    def reset(self, source: str) -> int:
        """Forget every mark of ``source`` (the next ingest reads everything again); returns how many."""
        with self._write() as conn:
            done = conn.execute(delete(source_watermarks).where(source_watermarks.c.source == source))
            return int(done.rowcount or 0)
