"""``PredictionRepo.labeled``: whole requests unfolded to predictions, labels joined in one query, and the
caller's memo of decoded requests (``decoded=``) giving the same answers as a fresh read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ctml.meta import MetaStore, PredictionRecord, open_meta

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def request(rid: str, n: int, seconds: int, *, route: str = "champion", output: Any = None) -> dict[str, Any]:
    answer = output if output is not None else {"predictions": [f"y{rid}{i}" for i in range(n)]}
    body = {"rows": [{"x": i} for i in range(n)]} if n > 1 else {"x": 0}
    return {"id": rid, "app": "elec", "model": "m", "version": 1, "route": route, "rows": n,
            "inputs": json.dumps(body), "output": json.dumps(answer), "latency_ms": 1.0,
            "at_ms": int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)}  # fmt: skip


@pytest.fixture
def meta() -> MetaStore:
    store = open_meta("sqlite://")
    store.predictions.append(
        [
            request("r1", 2, 0),
            request("r2", 1, 10),
            request("r3", 3, 10),  # the same time as r2: (at, id) orders them
            request("s3", 3, 10, route="shadow", output={"predictions": ["a"], "shadow_of": "r3"}),
            request("e4", 1, 20, output={"error": "boom"}),
            request("r5", 1, 30),
        ]
    )
    store.predictions.add_feedback("elec", {"r1-1": ('"A"', T0), "r3-2": ('"B"', T0), "s3-0": ('"S"', T0)})
    return store


def shape(rows: list[Any]) -> list[tuple[str, Any, Any]]:
    return [(r.prediction.id, r.prediction.output, r.label) for r in rows]


def test_labeled_unfolds_requests_and_joins_their_labels(meta: MetaStore) -> None:
    got = meta.predictions.labeled("elec", route="champion", limit=4)
    assert shape(got) == [
        ("r1-0", {"prediction": "yr10"}, None),
        ("r1-1", {"prediction": "yr11"}, "A"),
        ("r2-0", {"prediction": "yr20"}, None),
        ("r3-0", {"prediction": "yr30"}, None),
        ("r3-1", {"prediction": "yr31"}, None),
        ("r3-2", {"prediction": "yr32"}, "B"),  # whole requests: the limit of 4 is overshot
    ]
    assert [r.prediction.inputs for r in got[:3]] == [{"x": 0}, {"x": 1}, {"x": 0}]
    assert got[1].labeled_at == T0
    shadow = meta.predictions.labeled("elec", route="shadow", only_labeled=True)
    assert shape(shadow) == [("s3-0", {"prediction": "a", "shadow_of": "r3-0"}, "S")]
    newest = meta.predictions.labeled("elec", newest=True, limit=2, with_inputs=False)
    assert [r.prediction.id for r in newest] == ["e4-0", "r5-0"]
    assert newest[0].prediction.output == {"error": "boom"}
    assert {r.prediction.inputs for r in newest} == {None}


def test_a_memo_of_decoded_requests_gives_what_a_fresh_read_gives(meta: MetaStore) -> None:
    memo: dict[str, list[PredictionRecord]] = {}
    windows = [(0, 15), (5, 25), (10, 40), (10, 40)]
    for n, (lo, hi) in enumerate(windows):
        start, end = T0 + timedelta(seconds=lo), T0 + timedelta(seconds=hi)
        for options in ({}, {"route": "champion", "limit": 3}, {"only_labeled": True}):
            fresh = meta.predictions.labeled("elec", start=start, end=end, **options)
            cached = meta.predictions.labeled("elec", start=start, end=end, decoded=memo, **options)
            assert cached == fresh
        # between reads: a late label for an old row, a corrected label, a request logged late at an old time
        meta.predictions.add_feedback("elec", {"r2-0": (f'"late{n}"', None), "r1-1": (f'"fixed{n}"', None)})
        meta.predictions.append([request(f"q{n}", 1, 10 + n)])
    assert meta.predictions.labeled("elec", start=T0, end=T0 + timedelta(seconds=40), decoded=memo)[1].label == "fixed3"
    assert {"r1", "r2", "r3", "s3", "e4", "r5", "q0", "q1", "q2"} <= set(memo)
