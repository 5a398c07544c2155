"""Transactions shared by the metadata repositories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from ctml.clock import Clock
from ctml.errors import BackendUnavailableError
from ctml.meta._engine import describe_url, readonly
from ctml.meta._records import must_ms, to_ms

__all__ = ["Repo"]


class Repo:
    """Base of each repository: one engine, one clock, and write/read transactions."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._reader = readonly(engine)
        self._clock = clock
        self._compiled: dict[tuple[int, tuple[str, ...]], tuple[str, tuple[str, ...]]] = {}

    def _now(self) -> datetime:
        """The clock's time cut to the millisecond: what the store keeps, so a returned record equals a re-read one."""
        return must_ms(to_ms(self._clock.now()))

    def _now_ms(self) -> int:
        return to_ms(self._clock.now())

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._reader.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: OperationalError) -> BackendUnavailableError:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        return BackendUnavailableError(f"The metadata store at {describe_url(str(self._engine.url))} failed: {reason}.")

    def _executemany(self, conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> int:
        """Run ``stmt`` once per row and return the rows it changed (-1 where the driver cannot count them).

        On SQLite the rows go straight to the driver's ``executemany``: SQLAlchemy's per-row parameter
        processing costs more than SQLite's insert itself, and bulk metric logging is the hot path. The SQL is
        compiled once per statement and column set; PostgreSQL keeps SQLAlchemy's own batching.
        """
        if not rows:
            return 0
        if self._engine.dialect.name != "sqlite":
            result = conn.execute(stmt, rows)
            return int(result.rowcount) if result.supports_sane_multi_rowcount() else -1
        key = (id(stmt), tuple(rows[0]))
        compiled = self._compiled.get(key)
        if compiled is None:
            done = stmt.compile(dialect=self._engine.dialect, column_keys=list(rows[0]))
            compiled = self._compiled[key] = (str(done), tuple(done.positiontup or ()))
        sql, order = compiled
        return int(conn.exec_driver_sql(sql, [tuple(row[name] for name in order) for row in rows]).rowcount)

    def _upsert(self, table: Table) -> Any:
        """``INSERT`` that can take ``on_conflict_do_update`` on both SQLite and PostgreSQL."""
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
