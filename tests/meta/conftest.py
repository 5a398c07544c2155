"""Fixtures for the metadata store tests: SQLite files under tmp_path, and scratch PostgreSQL databases.

PostgreSQL tests run against the real server at ``CTML_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432``); each gets databases of its own, created empty and dropped after.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from _services import POSTGRES_SERVER, ScratchDatabases
from ctml.meta import MetaStore, open_meta
from ctml.store import ArtifactStore, open_store
from ctml.testing.meta import MetaStoreFactory


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def scratch_databases() -> Iterator[ScratchDatabases]:
    databases = ScratchDatabases(POSTGRES_SERVER)
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite store that does not exist yet."""
    return f"sqlite:///{tmp_path / 'meta.db'}"


@pytest.fixture
def postgres_url(scratch_databases: ScratchDatabases) -> str:
    """The URL of a new, empty PostgreSQL database."""
    return scratch_databases.create()


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[MetaStoreFactory]:
    """Fresh SQLite stores, one file each."""
    names = itertools.count()
    opened: list[MetaStore] = []

    def factory() -> MetaStore:
        store = open_meta(f"sqlite:///{tmp_path / f'meta-{next(names)}.db'}")
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def postgres_factory(scratch_databases: ScratchDatabases) -> Iterator[MetaStoreFactory]:
    """Fresh PostgreSQL stores, one scratch database each."""
    opened: list[MetaStore] = []

    def factory() -> MetaStore:
        store = open_meta(scratch_databases.create())
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    databases: ScratchDatabases = request.getfixturevalue("scratch_databases")
    return databases.create()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_factory(request: pytest.FixtureRequest) -> MetaStoreFactory:
    """Fresh stores on each backend."""
    factory: MetaStoreFactory = request.getfixturevalue(f"{request.param}_factory")
    return factory


@pytest.fixture
def meta(sqlite_url: str) -> Iterator[MetaStore]:
    """An SQLite metadata store for the tracking and registry tests."""
    with open_meta(sqlite_url) as store:
        yield store


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return open_store(str(tmp_path / "artifacts"))
