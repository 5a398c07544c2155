"""open_bus: URL -> backend, lazily imported; helpful errors; raw messages from outside systems."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import pytest

import ctml.bus
from ctml.bus import Bus, MemoryBus, NatsBus, RedisBus, open_bus
from ctml.errors import BackendUnavailableError, ConfigError, MissingExtraError, UnknownBackendError

from .conftest import free_port


def test_bus_package_exports_exactly_its_all() -> None:
    public = {name for name in vars(ctml.bus) if not name.startswith("_")}
    assert set(ctml.bus.__all__) == public


def test_memory_url() -> None:
    bus = open_bus("memory://")
    assert isinstance(bus, MemoryBus)
    assert isinstance(bus, Bus)
    with pytest.raises(ConfigError, match="memory://"):
        open_bus("memory://somewhere")


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(UnknownBackendError, match=r"memory, nats, postgresql, redis, sqlite"):
        open_bus("kafka://host:9092")


@pytest.mark.parametrize("url", ["", "retrain", "127.0.0.1:6379", None])
def test_bad_url_shows_an_example(url: object) -> None:
    with pytest.raises(ConfigError, match=r"redis://127\.0\.0\.1:6379/0"):
        open_bus(url)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "extra", "module"),
    [("redis://127.0.0.1:6379/0", "redis", "redis"), ("nats://127.0.0.1:4222", "nats", "nats")],
)
def test_missing_extra_names_the_pip_command(url: str, extra: str, module: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=rf"pip install 'ctml\[{extra}\]'"):
        open_bus(url)


@pytest.mark.parametrize("scheme", ["redis", "nats", "postgresql"])
def test_unreachable_server_says_what_to_check(scheme: str) -> None:
    port = free_port()
    url = f"{scheme}://127.0.0.1:{port}" + ("/test" if scheme == "postgresql" else "")
    with pytest.raises(BackendUnavailableError, match="Check that"):
        open_bus(url)


def test_importing_the_bus_imports_no_backend_library() -> None:
    code = "import sys, ctml.bus; print(sorted({'redis', 'nats', 'psycopg'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_redis_entries_written_by_outside_systems(redis_url: str) -> None:
    import redis

    prefix = f"ctml-test-{uuid.uuid4().hex[:12]}"
    bus = RedisBus(redis_url, prefix=prefix)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        stream = f"{prefix}:events:retrain"
        client.xadd(stream, {"garbage": "1"})
        client.xadd(stream, {"payload": "not json"})
        entry = client.xadd(stream, {"payload": json.dumps({"reason": "manual"}), "app": "churn"})
        client.xadd(stream, {"id": "ext-1", "payload": "{}", "created_ms": "1700000000000"})
        got = bus.consume("controller", ["retrain"])
        assert [(e.id, e.payload, e.app) for e in got] == [
            (f"redis-{entry.replace('-', '.')}", {"reason": "manual"}, "churn"),
            ("ext-1", {}, None),
        ]
        assert got[1].created.year == 2023
        bus.ack("controller", [e.id for e in got])
        assert client.xpending(stream, "controller")["pending"] == 0, "bad entries are acked, not left pending"
    finally:
        bus.close()
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_nats_messages_written_by_outside_systems(nats_url: str) -> None:
    import nats

    name = f"ctml_test_{uuid.uuid4().hex[:12]}"
    bus = NatsBus(nats_url, stream=name.upper(), prefix=name)

    async def publish_raw() -> None:
        client = await nats.connect(nats_url)
        stream = client.jetstream()
        await stream.publish(f"{name}.new_data", b"not json")
        await stream.publish(f"{name}.new_data", b'{"payload": {"rows": 5}}', headers={"Nats-Msg-Id": "ext-7"})
        await stream.publish(f"{name}.new_data", b'{"payload": {"rows": 6}, "app": "churn"}')
        await client.close()

    async def delete_stream() -> None:
        client = await nats.connect(nats_url)
        await client.jetstream().delete_stream(name.upper())
        await client.close()

    try:
        asyncio.run(publish_raw())
        got = bus.consume("controller", ["new_data"], block=2)
        assert [(e.id, e.payload, e.app) for e in got] == [
            ("ext-7", {"rows": 5}, None),
            ("nats-3", {"rows": 6}, "churn"),
        ]
        bus.ack("controller", [e.id for e in got])
    finally:
        bus.close()
        asyncio.run(delete_stream())
