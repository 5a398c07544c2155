from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ctml.meta import open_meta
from ctml.registry import ModelRegistry
from ctml.serve import AppSpec, ModelServer, ServeConfig
from ctml.store import open_store

from .models import PATH, make_registry

if not PATH.exists():  # pragma: no cover
    pytest.skip("elec2 is not available", allow_module_level=True)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[str, str]:
    return make_registry(tmp_path)


@pytest.fixture
def registry(stores: tuple[str, str]) -> Iterator[ModelRegistry]:
    meta = open_meta(stores[0])
    yield ModelRegistry(meta, open_store(stores[1]), actor="test")
    meta.close()


def make_server(registry: ModelRegistry, **options: object) -> ModelServer:
    config = ServeConfig([AppSpec("elec", "elec")], **options)  # type: ignore[arg-type]
    return ModelServer(config, registry)


@pytest.fixture
def server(registry: ModelRegistry) -> ModelServer:
    return make_server(registry, poll_s=60, max_batch_rows=100)


@pytest.fixture
def client(server: ModelServer) -> Iterator[TestClient]:
    with TestClient(server.app) as c:
        server.watcher.poll()  # models loaded before the first request
        # ... and the watcher thread's first poll (started by the lifespan) done, so that it cannot pick up a
        # route table a test writes next, before the test's own poll does
        deadline = time.monotonic() + 10
        while server.watcher.polls < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        yield c
