"""Against real uvicorn servers on loopback: 100 alias swaps under load, and what a crash can lose."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from ctml.meta import open_meta
from ctml.registry import ModelRegistry
from ctml.serve import AppSpec, ModelServer, ServeConfig

from .models import free_port, row

CHILD = Path(__file__).with_name("server_child.py")


def _wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not become ready")


@pytest.fixture
def live(registry: ModelRegistry) -> Iterator[tuple[str, ModelServer]]:
    server = ModelServer(ServeConfig([AppSpec("elec", "elec")], poll_s=60), registry)
    port = free_port()
    runner = uvicorn.Server(uvicorn.Config(server.app, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url)
    yield url, server
    runner.should_exit = True
    thread.join(30)


def test_100_swaps_under_load_fail_no_request(live: tuple[str, ModelServer], registry: ModelRegistry) -> None:
    url, server = live
    stop = threading.Event()
    statuses: dict[int, int] = {}
    versions: set[int] = set()

    async def load() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:

            async def worker(i: int) -> None:
                while not stop.is_set():
                    answer = await client.post("/v1/apps/elec/predict", json={"rows": [row(i), row(i + 1)]})
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    if answer.status_code == 200:
                        versions.add(answer.json()["version"])

            await asyncio.gather(*(worker(i) for i in range(8)))

    loader = threading.Thread(target=asyncio.run, args=(load(),))
    loader.start()
    swapped = 0
    for i in range(100):
        registry.promote("elec", 2 if i % 2 == 0 else 1)
        swapped += server.watcher.poll()  # what the poll or SIGHUP does, done at once
        time.sleep(0.01)
    stop.set()
    loader.join(30)
    assert swapped == 100
    assert set(statuses) == {200}, statuses
    assert sum(statuses.values()) > 100, statuses
    assert versions == {1, 2}


def _load_until_killed(url: str, seconds: float) -> list[str]:
    acknowledged: list[str] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            answer = client.post("/v1/apps/elec/predict", json={"rows": [row(i) for i in range(20)]})
            assert answer.status_code == 200
            acknowledged.extend(answer.json()["ids"])
    return acknowledged


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_crash_loses_at_most_the_bound_and_clean_shutdown_nothing(stores: tuple[str, str], how: str) -> None:
    meta_url, artifacts = stores
    port, capacity, batch = free_port(), 400, 100
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), meta_url, artifacts, str(port), str(capacity), str(batch)], env=env
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        acknowledged = _load_until_killed(url, 1.5)
        child.send_signal(getattr(signal, how))
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    meta = open_meta(meta_url)
    stored = {p.id for p in meta.predictions.window("elec", limit=10**7)}
    meta.close()
    lost = len(set(acknowledged) - stored)
    if how == "SIGKILL":
        assert lost <= capacity + batch, (lost, len(acknowledged))
    else:
        assert lost == 0, (lost, len(acknowledged))
    assert len(acknowledged) > 100
