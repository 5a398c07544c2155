"""An app over a few files cut from the shipped Elec2 stream, workspaces on SQLite or PostgreSQL, and buses
(the SQL outbox, Redis Streams, NATS JetStream) on the real servers, each under names of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sklearn.linear_model import LogisticRegression

from _elec2 import ELEC2_10K
from _services import scratch_database, unreachable
from ctml.app import App
from ctml.bus import Bus, NatsBus, RedisBus, SqlBus
from ctml.clock import Clock, SimulatedClock
from ctml.config import Settings
from ctml.data import FileSource
from ctml.evaluate import Gate
from ctml.rollout import RolloutPlan
from ctml.train import SlidingWindow
from ctml.triggers import Manual, RetrainPolicy
from ctml.workspace import Workspace

REDIS_URL = os.environ.get("CTML_TEST_REDIS", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("CTML_TEST_NATS", "nats://127.0.0.1:4222")
VISIBILITY = 1.0
"""The buses' visibility timeout in these tests: an unacked event comes back after a second."""

ROWS = 2000


@pytest.fixture(scope="session")
def elec2() -> pa.Table:
    return pacsv.read_csv(ELEC2_10K).slice(0, 5 * ROWS)


def write_part(folder: Path, table: pa.Table, index: int) -> Path:
    """Part ``index`` (ROWS rows) of the stream as a CSV file the source picks up."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{index:02d}.csv"
    pacsv.write_csv(table.slice(index * ROWS, ROWS), path)
    return path


def make_app(folder: Path) -> App:
    return App(
        "elec2",
        source=FileSource(folder / "*.csv"),
        target="class",
        time="date",
        model=LogisticRegression(max_iter=200),
        training=SlidingWindow(rows=5000),
        gate=Gate(min_effect=0.0, floors={"accuracy": 0.55}),
        holdout=0.2,
        seed=3,
    )


def event_app(folder: Path) -> App:
    """:func:`make_app` retrained only on request (no cooldown), with a roll-out that moves at every step
    (canary 50%, then full, then complete), so a loop driven by events finishes in a few cycles."""
    policy = RetrainPolicy(Manual(), cooldown=timedelta(0), max_per_day=None)
    plan = RolloutPlan(shadow_s=0, canary=(50.0,), bake_s=0, bake_requests=0)
    return replace(make_app(folder), policy=policy, rollout=plan)


def open_workspace(tmp_path: Path, meta_url: str, clock: Clock | None = None) -> Workspace:
    settings = Settings(home=tmp_path, meta_url=meta_url, artifact_url=str(tmp_path / "artifacts"), actor="test")
    return Workspace(settings, clock=clock)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    with scratch_database() as url:
        yield url


@dataclass(frozen=True)
class BusSpec:
    """How to open a bus on one namespace, from any process: ``kind`` sql, redis or nats; ``name`` the Redis
    key prefix or the NATS stream and subject prefix of this test."""

    kind: str
    url: str
    name: str

    def open(self, visibility: float = VISIBILITY) -> Bus:
        if self.kind == "sql":
            return SqlBus(self.url, visibility=visibility)
        if self.kind == "redis":
            return RedisBus(self.url, prefix=self.name, visibility=visibility)
        return NatsBus(self.url, stream=self.name.upper(), prefix=self.name, visibility=visibility)

    def publish_raw(self, topic: str, event_id: str, app: str, payload: dict[str, object]) -> None:
        """Write an event as an outside system would, past the bus's publish-time deduplication (Redis's id key,
        NATS's ``Nats-Msg-Id``): a second copy of an id reaches the consumers."""
        if self.kind == "redis":
            import redis

            client = redis.Redis.from_url(self.url)
            fields = {"id": event_id, "app": app, "payload": json.dumps(payload)}
            client.xadd(f"{self.name}:events:{topic}", fields)  # type: ignore[arg-type]
            client.close()
        elif self.kind == "nats":
            asyncio.run(_nats_publish(self.url, f"{self.name}.{topic}", {"id": event_id, "app": app,
                                                                           "payload": payload}))  # fmt: skip
        else:
            raise ValueError("the SQL outbox stores an id once: there is no raw second copy to write")

    def remove(self) -> None:
        if self.kind == "redis":
            import redis

            client = redis.Redis.from_url(self.url)
            keys = list(client.scan_iter(f"{self.name}:*"))
            if keys:
                client.delete(*keys)
            client.close()
        elif self.kind == "nats":
            asyncio.run(_nats_delete(self.url, self.name.upper()))


async def _nats_publish(url: str, subject: str, body: dict[str, object]) -> None:
    import nats

    client = await nats.connect(url)
    try:
        await client.jetstream().publish(subject, json.dumps(body).encode())
    finally:
        await client.close()


async def _nats_delete(url: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    client = await nats.connect(url)
    try:
        with contextlib.suppress(NotFoundError):
            await client.jetstream().delete_stream(stream)
    finally:
        await client.close()


def _reachable(url: str, default_port: int) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2).close()
    except OSError:
        return False
    return True


def bus_spec(request: pytest.FixtureRequest, kind: str, meta_url: str) -> Iterator[BusSpec]:
    """A bus of ``kind`` for one test (the SQL outbox lives in the metadata database), removed afterwards."""
    name = f"ctml_ctl_{uuid.uuid4().hex[:10]}"
    if kind == "sql":
        yield BusSpec("sql", meta_url, name)
        return
    pytest.importorskip(kind, reason=f"the {kind} extra is not installed")
    url, port = (REDIS_URL, 6379) if kind == "redis" else (NATS_URL, 4222)
    if not _reachable(url, port):
        unreachable(f"{kind} is not reachable at {url}")
    spec = BusSpec(kind, url, name)
    try:
        yield spec
    finally:
        spec.remove()


@pytest.fixture
def meta_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The metadata store of a ``(meta, bus)`` parameter: a SQLite file or a scratch PostgreSQL database."""
    if request.node.callspec.params["stack"][0] == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def bus(request: pytest.FixtureRequest, meta_url: str) -> Iterator[BusSpec]:
    """The bus of a ``(meta, bus)`` parameter ``stack``."""
    yield from bus_spec(request, request.node.callspec.params["stack"][1], meta_url)


def stacks(*pairs: tuple[str, str]) -> pytest.MarkDecorator:
    """Parametrize a test over ``(metadata store, bus)`` pairs; the fixtures ``meta_url`` and ``bus`` read it."""
    params = [
        pytest.param(pair, id=f"{pair[0]}-{pair[1]}", marks=[pytest.mark.postgres] if pair[0] == "postgres" else [])
        for pair in pairs
    ]
    return pytest.mark.parametrize("stack", params)


def tournament_app(folder: Path) -> App:
    """:func:`event_app` with a tournament of one standing challenger, judged on 50 to 400 live rows and
    promoted directly."""
    from ctml.app import Tournament

    folder.mkdir(parents=True, exist_ok=True)
    spec = Tournament(challengers=(LogisticRegression(max_iter=50),), window_rows=400, min_rows=50)
    return replace(event_app(folder), tournament=spec)
