"""Engines for the metadata store: URL checks, SQLite pragmas, connection errors, and schema migrations.

SQLite runs in WAL mode with a busy timeout. Python's sqlite3 module issues its own ``BEGIN`` lazily and
cannot take the write lock up front, so two processes that both read and then write can deadlock on the
lock upgrade, which no busy timeout resolves. We switch the driver to autocommit and emit ``BEGIN IMMEDIATE``
for every write transaction ourselves, and a plain deferred ``BEGIN`` for read-only ones (WAL readers never
block writers).
"""

from __future__ import annotations

import importlib.util
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from ctml.errors import (
    BackendUnavailableError,
    ConfigError,
    MissingExtraError,
    SchemaVersionError,
    UnknownBackendError,
)

__all__ = ["connect", "describe_url", "migrate", "schema_status"]

MIGRATIONS = Path(__file__).with_name("migrations")
_SCHEMES = ["sqlite", "postgresql"]
_READONLY = "ctml_readonly"
# Any constant will do: it names the advisory lock that serializes migrations on PostgreSQL.
_MIGRATION_LOCK = 7_310_170


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _normalize(url: str) -> str:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    family = scheme.split("+", 1)[0]
    if family not in _SCHEMES:
        raise UnknownBackendError(url, "metadata store", _SCHEMES)
    if family == "postgresql":
        if importlib.util.find_spec("psycopg") is None:
            raise MissingExtraError("postgres", "A PostgreSQL metadata store", "psycopg")
        if scheme == "postgresql":
            url = "postgresql+psycopg" + url[len("postgresql") :]
    try:
        make_url(url)
    except (ArgumentError, ValueError) as exc:  # a non-numeric port is a ValueError
        raise ConfigError(f"Cannot parse metadata store URL {url!r}: {exc}") from None
    return url


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    memory = database in ("", ":memory:")
    if not memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": 60, "check_same_thread": False},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        if not memory:
            _wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every ~40 MB of WAL instead of every 4 MB: a checkpoint copies only the newest copy of
        # each page and fsyncs, so rarer checkpoints cut both the copying and the fsyncs of bulk logging.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        # Straight to the driver: this runs once per transaction, and SQLAlchemy's execution path for one
        # fixed statement costs more than the BEGIN. A lock timeout surfaces as sqlite3.OperationalError,
        # which the repositories translate like SQLAlchemy's.
        conn.connection.driver_connection.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")  # type: ignore[union-attr]

    return engine


def _wal(cursor: Any) -> None:
    """Put the database in WAL mode (it stays so, in the file). Switching takes a lock that SQLite does not
    wait for, so processes opening a new store together can see "database is locked": retry for a while."""
    for wait in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 0.0):
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or not wait:
                raise
            time.sleep(wait)


def connect(url: str) -> Engine:
    """An engine for ``url``, checked by one round trip so a bad URL fails here with a clear message."""
    url = _normalize(url)
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url)
    else:
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise BackendUnavailableError(
            f"Cannot reach the metadata store at {describe_url(url)}: {reason}. "
            "Check that the server is running and the URL (CTML_META_URL) is right."
        ) from None
    return engine


def readonly(engine: Engine) -> Engine:
    """The same pool, marked so SQLite starts read transactions without taking the write lock."""
    return engine.execution_options(**{_READONLY: True})


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_status(engine: Engine) -> tuple[str | None, str]:
    """(the store's schema revision or None when empty, the newest revision this ctml knows)."""
    script = ScriptDirectory.from_config(_config())
    head = script.get_current_head()
    assert head is not None
    with readonly(engine).connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def _check_known(engine: Engine, current: str, head: str) -> None:
    script = ScriptDirectory.from_config(_config())
    try:
        script.get_revision(current)
    except CommandError:
        raise SchemaVersionError(
            f"The metadata store at {describe_url(str(engine.url))} has schema revision {current!r}, which "
            f"this ctml does not know (its newest is {head!r}): it was written by a newer ctml. "
            "Upgrade ctml (pip install -U ctml) to use this store; nothing was changed."
        ) from None


def migrate(engine: Engine, auto: bool = True) -> None:
    """Bring the schema to this ctml's head revision; refuse a schema from a newer ctml.

    Concurrent openers are safe: SQLite serializes on ``BEGIN IMMEDIATE`` and PostgreSQL on an advisory lock,
    and the revision is read again under the lock.
    """
    current, head = schema_status(engine)
    if current == head:
        return
    if current is not None:
        _check_known(engine, current, head)
        if not auto:
            raise SchemaVersionError(
                f"The metadata store at {describe_url(str(engine.url))} has schema revision {current!r}; "
                f"this ctml needs {head!r}. Run `ctml db upgrade` (or set CTML_AUTO_MIGRATE=true)."
            )
    with _locked(engine) as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        yield conn
