"""The HTTP surface: predictions, validation errors that name the field, feedback, health, metrics, auth."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from starlette.testclient import TestClient

from ctml.registry import ModelRegistry
from ctml.serve import ModelServer, create_token

from .conftest import make_server
from .models import FEATURES, row


def test_predict_one_row_and_a_batch(client: TestClient, server: ModelServer) -> None:
    one = client.post("/v1/apps/elec/predict", json=row(0))
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["model"] == "elec"
    assert body["version"] == 1
    assert body["route"] == "champion"
    assert len(body["ids"]) == 1
    assert body["predictions"][0] in ("UP", "DOWN")
    assert body["classes"] == ["DOWN", "UP"]
    assert abs(sum(body["probabilities"][0]) - 1) < 1e-9
    many = client.post("/v1/apps/elec/predict", json={"rows": [row(i) for i in range(5)]}).json()
    assert len(many["ids"]) == len(set(many["ids"])) == 5 == len(many["predictions"])
    assert server.log.flush(5)
    logged = server.meta.predictions.window("elec")
    assert [p.id for p in logged] == sorted(body["ids"] + many["ids"])
    first = next(p for p in logged if p.id == body["ids"][0])
    assert first.inputs == row(0)
    assert first.output["prediction"] == body["predictions"][0]
    assert first.version == 1
    assert first.route == "champion"
    assert first.latency_ms >= 0


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b'{"date": NaN}', 400, None),
        (b"[1, 2]", 422, None),
        (json.dumps({k: v for k, v in row().items() if k != "day"}).encode(), 422, "day"),
        (json.dumps({**row(), "colour": 1}).encode(), 422, "colour"),
        (json.dumps({**row(), "period": "noon"}).encode(), 422, "period"),
        (json.dumps({**row(), "period": None}).encode(), 422, "period"),
        (json.dumps({**row(), "period": True}).encode(), 422, "period"),
        (json.dumps({**row(), "period": 1e400}).encode().replace(b"Infinity", b"1e400"), 422, "period"),
        (b'{"rows": []}', 422, "rows"),
        (b'{"rows": {}}', 422, "rows"),
        (json.dumps({"rows": [row()] * 101}).encode(), 413, "rows"),
        (json.dumps({"rows": [row(), {**row(), "nswprice": "x"}]}).encode(), 422, "nswprice"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_field(client: TestClient, payload: bytes, status: int, field: str) -> None:
    answer = client.post("/v1/apps/elec/predict", content=payload, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["field"] == field
    if field is not None:
        assert repr(field) in error["message"] or field in error["message"]


def test_unknown_app_and_endpoint(client: TestClient) -> None:
    answer = client.post("/v1/apps/nope/predict", json=row())
    assert answer.status_code == 404
    assert "'nope'" in answer.json()["error"]["message"]
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/apps/elec/predict").status_code == 405


def test_feedback_late_out_of_order_and_unknown_ids(client: TestClient, server: ModelServer) -> None:
    ids = client.post("/v1/apps/elec/predict", json={"rows": [row(0), row(1)]}).json()["ids"]
    late = {"id": ids[0], "label": "UP", "at": "2024-01-02T00:00:00Z"}
    early = {"id": ids[0], "label": "DOWN", "at": "2024-01-01T00:00:00Z"}
    answer = client.post("/v1/apps/elec/feedback", json={"labels": [late, {"id": ids[1], "label": "DOWN"}]})
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 2, "unknown": []}
    assert client.post("/v1/apps/elec/feedback", json=early).status_code == 200  # older label arrives last
    joined = {p.prediction.id: p.label for p in server.meta.predictions.labeled("elec")}
    assert joined == {ids[0]: "UP", ids[1]: "DOWN"}
    ghost = "01HK153X00AAAAAAAAAAAAAAAA-0"
    mixed = client.post("/v1/apps/elec/feedback", json={"labels": [{"id": ghost, "label": "UP"}, late]})
    assert mixed.status_code == 200
    assert mixed.json()["unknown"] == [ghost]
    assert "not logged" in mixed.json()["message"]
    only = client.post("/v1/apps/elec/feedback", json={"id": ghost, "label": "UP"})
    assert only.status_code == 404
    assert only.json()["accepted"] == 0
    bad = client.post("/v1/apps/elec/feedback", json={"id": "x", "label": "UP"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "id"


def test_a_label_sent_while_its_prediction_is_in_the_writers_transaction_is_kept(
    client: TestClient, server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    append = server.meta.predictions.append

    def held_append(records: Any) -> Any:  # the writer has taken the batch off the queue and not committed it
        entered.set()
        release.wait(10)
        return append(records)

    monkeypatch.setattr(server.meta.predictions, "append", held_append)
    [pid] = client.post("/v1/apps/elec/predict", json=row(0)).json()["ids"]
    assert entered.wait(5)
    assert server.log.depth == 0  # nothing queued: the only trace of the row is the open write
    assert server.log.pending == 1
    threading.Timer(0.3, release.set).start()
    answer = client.post("/v1/apps/elec/feedback", json={"id": pid, "label": "UP"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1, "unknown": []}
    assert server.log.pending == 0


def test_health_readiness_metrics_and_openapi(registry: ModelRegistry) -> None:
    server = make_server(registry, poll_s=60)
    _, secret = create_token(registry.meta, "read")
    with TestClient(server.app) as client:
        assert client.get("/healthz").status_code == 200
        server.watcher.poll()
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["apps"] == {"elec": {"champion": 1}}
        client.post("/v1/apps/elec/predict", json=row())
        client.post("/v1/apps/elec/predict", content=b"{")
        assert client.get("/metrics").status_code == 401
        text = client.get("/metrics", headers={"authorization": f"Bearer {secret}"}).text
        for name in (
            "ctml_serve_requests_total",
            "ctml_serve_request_seconds_bucket",
            "ctml_serve_errors_total",
            "ctml_serve_log_queue_depth",
            "ctml_serve_log_dropped_total",
        ):
            assert name in text
        assert 'ctml_serve_predictions_total{app="elec",route="champion",version="1"} 1.0' in text
        doc = client.get("/openapi.json").json()
        schema = doc["components"]["schemas"]["elec.Row"]
        assert schema["required"] == list(FEATURES)
        assert doc["openapi"].startswith("3.")


def test_not_ready_until_loaded(registry: ModelRegistry) -> None:
    server = make_server(registry, poll_s=60)
    client = TestClient(server.app)  # no lifespan: nothing loaded
    assert client.get("/readyz").status_code == 503
    assert client.post("/v1/apps/elec/predict", json=row()).status_code == 503


def test_tokens_and_roles(registry: ModelRegistry) -> None:
    server = make_server(registry, poll_s=60, require_token_for_predict=True)
    _, reader = create_token(registry.meta, "read")
    _, predictor = create_token(registry.meta, "predict")
    _, operator = create_token(registry.meta, "operate")
    stored = {t.sha256 for t in registry.meta.tokens.active()}
    assert reader not in str(stored)
    assert len(stored) == 3
    with TestClient(server.app) as client:
        server.watcher.poll()
        assert client.post("/v1/apps/elec/predict", json=row()).status_code == 401
        bearer = {"authorization": f"Bearer {reader}"}
        assert client.post("/v1/apps/elec/predict", json=row(), headers=bearer).status_code == 403
        bearer = {"authorization": f"Bearer {predictor}"}
        assert client.post("/v1/apps/elec/predict", json=row(), headers=bearer).status_code == 200
        assert client.post("/v1/apps/elec/reload", headers=bearer).status_code == 403
        assert client.post("/v1/apps/elec/reload", headers={"authorization": f"Bearer {operator}"}).status_code == 200
        assert client.get("/v1/apps", headers={"authorization": "Bearer ctml_wrong"}).status_code == 401
        token = registry.meta.tokens.active()[0]
        registry.meta.tokens.revoke(token.id)
        server.tokens.refresh()
        secret = {reader, predictor, operator}
        statuses = {client.get("/v1/apps", headers={"authorization": f"Bearer {s}"}).status_code for s in secret}
        assert statuses == {200, 401}
