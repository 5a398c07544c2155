"""Transactions shared by the metadata repositories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from ctml.clock import Clock
from ctml.errors import BackendUnavailableError
from ctml.meta._engine import describe_url, readonly
from ctml.meta._records import to_ms

__all__ = ["Repo"]


class Repo:
    """Base of each repository: one engine, one clock, and write/read transactions."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._reader = readonly(engine)
        self._clock = clock

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

    def _upsert(self, table: Table) -> Any:
        """``INSERT`` that can take ``on_conflict_do_update`` on both SQLite and PostgreSQL."""
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
