"""Transactions shared by the metadata repositories."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from ctml.clock import Clock
from ctml.errors import BackendUnavailableError, ConfigError
from ctml.meta._engine import describe_url, readonly
from ctml.meta._records import must_ms, to_ms

__all__ = ["Repo", "short_text"]


def short_text(what: str, value: str, limit: int) -> str:
    """``value`` if it is a non-empty string of at most ``limit`` characters (the column's width)."""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ConfigError(f"A {what} must be a non-empty string of at most {limit} characters. Got {value!r}.")
    return value


class _Uncounted:
    """A result whose driver cannot count the rows an executemany changed."""

    rowcount = -1

    def __init__(self, result: Any) -> None:
        self.fetchone = result.fetchone
        self.fetchall = result.fetchall


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
        except (OperationalError, sqlite3.OperationalError) as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._reader.connect() as conn:
                yield conn
        except (OperationalError, sqlite3.OperationalError) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> BackendUnavailableError:
        orig = getattr(exc, "orig", None) or exc
        reason = str(orig).strip().splitlines()[0]
        return BackendUnavailableError(f"The metadata store at {describe_url(str(self._engine.url))} failed: {reason}.")

    def _run(self, conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> Any:
        """Run ``stmt`` once per row (a SELECT with one row of binds) and return the cursor.

        On SQLite the rows go straight to the driver connection of the current transaction, with the SQL
        compiled once per statement and column set: SQLAlchemy's per-statement and per-row processing costs
        several times SQLite's own insert, and run logging is the hot path. PostgreSQL keeps SQLAlchemy's own
        execution and batching. The result answers ``rowcount`` (-1 where the driver cannot count) and
        ``fetchone()``/``fetchall()``.
        """
        if self._engine.dialect.name != "sqlite":
            result = conn.execute(stmt, rows if len(rows) != 1 else rows[0])
            return result if len(rows) == 1 or result.supports_sane_multi_rowcount() else _Uncounted(result)
        key = (id(stmt), tuple(rows[0]))
        compiled = self._compiled.get(key)
        if compiled is None:
            done = stmt.compile(dialect=self._engine.dialect, column_keys=list(rows[0]))
            compiled = self._compiled[key] = (str(done), tuple(done.positiontup or ()))
        sql, order = compiled
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if len(rows) == 1:
            return cursor.execute(sql, tuple(rows[0][name] for name in order))
        return cursor.executemany(sql, [tuple(row[name] for name in order) for row in rows])

    def _upsert(self, table: Table) -> Any:
        """``INSERT`` that can take ``on_conflict_do_update`` on both SQLite and PostgreSQL."""
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
