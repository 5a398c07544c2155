"""Route tables from the store: canary split by a sticky key hash, shadow answers only logged."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

from ctml.errors import ConfigError, ConflictError
from ctml.registry import ModelRegistry
from ctml.serve import ModelServer, Router, RouteSpec, bucket

from .models import row


def test_bucket_is_the_same_everywhere_and_the_split_holds() -> None:
    keys = [f"user-{i}" for i in range(4000)]
    share = sum(bucket("elec", k) < 0.05 for k in keys) / len(keys)
    assert 0.04 < share < 0.06
    assert [bucket("elec", k) for k in keys[:5]] == [bucket("elec", k) for k in keys[:5]]  # no per-process salt
    with pytest.raises(ConfigError, match="percent"):
        RouteSpec.from_json({"champion": "champion", "canary": {"ref": "v2", "percent": 150}})
    assert Router().choose("elec", _routes_stub(), None) == "champion"


def _routes_stub() -> object:
    class Stub:
        canary = None

    return Stub()


def test_canary_and_shadow_from_the_route_table(
    client: TestClient, server: ModelServer, registry: ModelRegistry
) -> None:
    table = {"champion": "champion", "canary": {"ref": "v2", "percent": 30}, "shadow": "v2", "sticky": "header:x-user"}
    record = registry.meta.routes.set("elec", table)
    with pytest.raises(ConflictError):
        registry.meta.routes.set("elec", table, expected_revision=record.revision - 1)
    assert server.watcher.poll() == 1
    routes = {}
    for i in range(200):
        answer = client.post("/v1/apps/elec/predict", json=row(), headers={"x-user": f"u{i}"}).json()
        routes[f"u{i}"] = (answer["route"], answer["version"])
        expected = "canary" if bucket("elec", f"u{i}") < 0.30 else "champion"
        assert answer["route"] == expected
        assert answer["version"] == (2 if expected == "canary" else 1)
    again = client.post("/v1/apps/elec/predict", json=row(), headers={"x-user": "u7"}).json()
    assert (again["route"], again["version"]) == routes["u7"]  # sticky
    assert server.log.flush(5)
    logged = server.meta.predictions.window("elec", limit=10_000)
    shadows = [p for p in logged if p.route == "shadow"]
    assert len(shadows) == 201
    assert {p.version for p in shadows} == {2}
    answered = {p.id for p in logged if p.route != "shadow"}
    assert {p.output["shadow_of"] for p in shadows} == answered  # type: ignore[index]


def test_a_failing_shadow_is_counted_and_never_touches_the_answer(
    client: TestClient, server: ModelServer, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.meta.routes.set("elec", {"champion": "champion", "shadow": "v2"})
    assert server.watcher.poll() == 1
    routes = server.slots["elec"].routes
    assert routes is not None
    assert routes.shadow is not None
    nan_proba = lambda X: (np.zeros(len(X), dtype=np.int64), np.full((len(X), 2), np.nan))  # noqa: E731
    monkeypatch.setattr(routes.shadow.outputs, "_call", nan_proba)
    answer = client.post("/v1/apps/elec/predict", json=row())
    assert answer.status_code == 200
    assert (answer.json()["route"], answer.json()["version"]) == ("champion", 1)
    labels = {"app": "elec", "endpoint": "shadow", "status": "500"}
    assert server.metrics.registry.get_sample_value("ctml_serve_errors_total", labels) == 1
    assert server.log.flush(5)
    assert [p.route for p in server.meta.predictions.window("elec")] == ["champion"]
