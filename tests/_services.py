"""One rule for tests that need a real server: skip when it is not reachable, except in CI.

``.ci/run`` starts the servers and sets ``CTML_REQUIRE_SERVICES=1``, so there a missing server fails the run
instead of silently skipping the tests that use it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_SERVER = os.environ.get("CTML_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
"""The PostgreSQL server the tests create their scratch databases on (``CTML_TEST_POSTGRES``)."""


def unreachable(message: str) -> None:
    if os.environ.get("CTML_REQUIRE_SERVICES"):
        pytest.fail(f"{message} (CTML_REQUIRE_SERVICES is set: the server must be running)", pytrace=False)
    pytest.skip(message)


class ScratchDatabases:
    """Creates empty PostgreSQL databases with unique names and drops them all at the end."""

    def __init__(self, server: str) -> None:
        psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
        self.server = server
        self.names: list[str] = []
        try:
            self._admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as exc:
            unreachable(f"PostgreSQL is not reachable at {server}: {exc}")

    def create(self) -> str:
        """The URL of a new, empty database."""
        name = f"ctml_test_{uuid.uuid4().hex[:16]}"
        self._admin.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return f"{self.server}/{name}"

    def drop_all(self) -> None:
        for name in self.names:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()
        self._admin.close()


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on :data:`POSTGRES_SERVER`, dropped afterwards."""
    databases = ScratchDatabases(POSTGRES_SERVER)
    try:
        yield databases.create()
    finally:
        databases.drop_all()
