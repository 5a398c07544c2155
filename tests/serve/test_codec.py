"""JSON in and out of the predict path: orjson when installed, the standard library otherwise, with the same
answers and the same 4xx for every body; a model answering NaN is a logged 500, never a malformed answer."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from ctml.flavors import Signature, fit_model, predictor
from ctml.registry import ModelRegistry
from ctml.serve import LoadedModel, ModelServer, RowCodec, _codec
from ctml.serve._codec import BadRequest, dumps, parse_json

from .conftest import make_server
from .models import FEATURES, elec2, row

orjson = pytest.importorskip("orjson")

BODIES = [
    b'{"a": 1, "b": [0.5, -2e-7, 3]}',
    '{"a": "été"}'.encode(),
    '{"a": 1}'.encode("utf-16"),  # JSON may come as UTF-16: orjson refuses it, the standard library reads it
    b'{"a": 1e400}',  # past float64: likewise; read as infinity, which the codec answers with a 422 (test_server)
    b'{"a": 1' + b"0" * 400 + b"}",  # an integer past float64: the codec answers 422 for it
    b'{"a": 1, "a": 2}',
]
BAD = [b"", b"{not json", b'{"a": NaN}', b'{"a": -Infinity}', b"[1,", b"\xff\xfe\x00"]


@pytest.fixture(params=["orjson", "json"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "json":
        monkeypatch.setattr(_codec, "orjson", None)
    return str(request.param)


@pytest.mark.parametrize("body", BODIES)
def test_both_parsers_read_a_body_as_the_standard_library_does(parser: str, body: bytes) -> None:
    assert parse_json(body) == json.loads(body)


def test_an_integer_past_64_bits_reads_as_the_same_float64(parser: str) -> None:
    value = parse_json(b'{"a": 123456789012345678901234567890}')["a"]
    assert value == (1.2345678901234568e29 if parser == "orjson" else 123456789012345678901234567890)
    assert np.float64(value) == np.float64(123456789012345678901234567890)


@pytest.mark.parametrize("body", BAD)
def test_both_parsers_refuse_what_is_not_json_with_the_same_400(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def refusal() -> BadRequest:
        with pytest.raises(BadRequest) as caught:
            parse_json(body)
        return caught.value

    fast = refusal()
    monkeypatch.setattr(_codec, "orjson", None)
    slow = refusal()
    assert (fast.status, fast.message) == (slow.status, slow.message)
    assert fast.status == 400
    assert fast.message.startswith(("The request body", "The body holds"))


def test_both_encoders_write_compact_utf8_json_that_reads_back_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    document: dict[str, Any] = {
        "ids": ["01J-0", "01J-1"],
        "predictions": ["UP", "été"],
        "version": 3,
        "probabilities": [[0.1, 0.9], [1 / 3, 2 / 3]],
        "values": [1e-7, 2.5e20, -0.0, 12345678.9],
    }
    fast = dumps(document)
    monkeypatch.setattr(_codec, "orjson", None)
    slow = dumps(document)
    assert json.loads(fast) == json.loads(slow) == document
    for data in (fast, slow):
        assert b" " not in data
        assert "été".encode() in data  # UTF-8, not \u escapes
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps({"x": float("nan")})  # the standard library refuses NaN; orjson would write null


def test_a_model_answering_nan_gets_a_500_naming_it_and_the_failure_is_logged(
    client: TestClient, server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = server.slots["elec"].routes
    assert routes is not None
    nan_proba = lambda X: (np.zeros(len(X), dtype=np.int64), np.full((len(X), 2), np.nan))  # noqa: E731
    monkeypatch.setattr(routes.champion.outputs, "_call", nan_proba)
    answer = client.post("/v1/apps/elec/predict", json={"rows": [row(0), row(1)]})
    assert answer.status_code == 500
    assert answer.json()["error"]["message"] == "The model elec v1 failed on this request (ValueError)."
    assert server.log.flush(5)
    [logged, _] = server.meta.predictions.window("elec")
    assert logged.inputs == row(0)
    assert "NaN or infinite probability in 2 of 2 rows" in json.dumps(logged.output)


def test_a_regressor_answering_infinity_is_refused_before_it_is_encoded() -> None:
    signature = Signature(("a", "b"), ("float64", "float64"), "regression")
    flavor = SimpleNamespace(
        name="fake", capabilities=frozenset(), predict=lambda estimator, X, signature: np.array([1.0, np.inf, 2.0])
    )
    loaded: Any = SimpleNamespace(flavor=flavor, estimator=None, signature=signature)
    served = LoadedModel("m", 1, "digest", loaded, RowCodec(signature, max_rows=10), None, predictor(loaded))
    with pytest.raises(ValueError, match="NaN or an infinity for 1 of 3 rows"):
        served.predict(np.zeros((3, 2)))
    flavor.predict = lambda estimator, X, signature: np.array([1.0, -2.5, 2.0])
    assert served.predict(np.zeros((3, 2))) == ([1.0, -2.5, 2.0], None)


def test_a_linear_champion_answers_through_the_fast_path_exactly_as_its_model(
    client: TestClient, server: ModelServer
) -> None:
    routes = server.slots["elec"].routes
    assert routes is not None
    assert routes.champion.outputs.fast  # a LogisticRegression: one NumPy pass, proven equal when loaded
    rows = [row(i) for i in range(50)]
    answer = client.post("/v1/apps/elec/predict", json={"rows": rows})
    assert answer.status_code == 200
    model = routes.champion.loaded
    X = np.array([[r[n] for n in model.signature.feature_names] for r in rows])
    assert answer.json()["predictions"] == model.predict(X).tolist()
    assert answer.json()["probabilities"] == model.predict_proba(X).tolist()  # bit for bit, through JSON


def test_a_classifier_without_probabilities_is_served_with_labels_alone(registry: ModelRegistry) -> None:
    from sklearn.linear_model import SGDClassifier

    X, y = elec2()
    hinge = fit_model(SGDClassifier(loss="hinge"), X, y, feature_names=FEATURES, seed=0)
    version = registry.register("elec", hinge.to_bytes(), flavor="sklearn").version
    registry.promote("elec", version)
    server = make_server(registry, poll_s=60)
    with TestClient(server.app) as client:
        server.watcher.poll()
        answer = client.post("/v1/apps/elec/predict", json={"rows": [row(0), row(1)]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == version
    assert "probabilities" not in body
    assert body["predictions"] == hinge.predict(X[:2]).tolist()
