"""Fixtures for the bus tests: the real PostgreSQL, Redis and NATS (JetStream) servers on this machine.

Every test works under names of its own (a scratch database, a Redis key prefix, a NATS stream) and removes
them afterwards, so runs in parallel do not collide. A server that is not reachable skips its tests.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from _services import scratch_database, unreachable
from ctml.meta import open_meta
from ctml.testing.bus import BusHarness, MemoryHarness, NatsHarness, RedisHarness, SqlHarness

REDIS_URL = os.environ.get("CTML_TEST_REDIS", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("CTML_TEST_NATS", "nats://127.0.0.1:4222")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database carrying the metadata schema (and with it the bus tables)."""
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    open_meta(url).close()
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database carrying the metadata schema, dropped after the test."""
    with scratch_database() as url:
        open_meta(url).close()
        yield url


@pytest.fixture
def redis_url() -> str:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    if not _reachable(REDIS_URL, 6379):
        unreachable(f"Redis is not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def nats_url() -> str:
    pytest.importorskip("nats", reason="the nats extra is not installed")
    if not _reachable(NATS_URL, 4222):
        unreachable(f"NATS is not reachable at {NATS_URL}")
    return NATS_URL


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis", "nats"])
def harness(request: pytest.FixtureRequest) -> Iterator[BusHarness]:
    """A harness for each backend, cleaned up after the test."""
    made: MemoryHarness | SqlHarness | RedisHarness | NatsHarness
    if request.param == "memory":
        made = MemoryHarness()
    elif request.param in ("sqlite", "postgres"):
        made = SqlHarness(request.getfixturevalue(f"{request.param}_url"))
    elif request.param == "redis":
        made = RedisHarness(request.getfixturevalue("redis_url"))
    else:
        made = NatsHarness(request.getfixturevalue("nats_url"))
    with made:
        yield made
