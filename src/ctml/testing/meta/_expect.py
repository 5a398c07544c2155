"""Shared assertions and fixtures of the metadata conformance checks."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from ctml.meta import AliasMove, ArtifactRef, MetaStore, Metric, Node, Run
from ctml.testing._assertions import expect as _expect

MetaStoreFactory = Callable[[], MetaStore]
"""Returns a fresh, empty, open store; the check that asked for it closes it."""

_E = TypeVar("_E", bound=BaseException)
T0 = 1_700_000_000_000  # a fixed time in Unix ms, for metrics logged with explicit times
DIGEST_A = "a" * 64
DIGEST_B = "b" * 64

# --- helpers -----------------------------------------------------------------------------------------------


def _expect_fields(record: object, what: str, **expected: object) -> None:
    wrong = {
        name: (getattr(record, name, "<missing>"), value)
        for name, value in expected.items()
        if getattr(record, name, "<missing>") != value
    }
    _expect(not wrong, f"{what}: fields differ (field: (got, expected)): {wrong}")


def _expect_latest(store: MetaStore, run_id: str, key: str, value: float, rule: str) -> None:
    latest = store.runs.get(run_id).metrics.get(key)
    history = [(p.step, p.value) for p in store.runs.metric_history(run_id, key)]
    _expect(latest == value, f"metric {key!r} is {latest}, expected {value}: {rule} (history {history})")


def _expect_chain(history: list[AliasMove], alias: str) -> None:
    """Newest-first moves have revisions n..1 and each starts where the previous one ended."""
    oldest_first = list(reversed(history))
    revisions = [move.revision for move in oldest_first]
    _expect(revisions == list(range(1, len(history) + 1)), f"{alias} history revisions are {revisions}, not 1..n")
    for before, after in itertools.pairwise(oldest_first):
        _expect(
            after.from_version == before.to_version,
            f"{alias} revision {after.revision} moved from v{after.from_version}, but revision {before.revision} "
            f"had left it at v{before.to_version}: a lost update",
        )


def _at(offset_ms: int) -> datetime:
    return datetime.fromtimestamp((T0 + offset_ms) / 1000, tz=UTC)


def _same_ms(a: datetime, b: datetime) -> bool:
    return int(a.timestamp() * 1000) == int(b.timestamp() * 1000)


def _same_ref(a: ArtifactRef, b: ArtifactRef) -> bool:
    # Stored times have millisecond precision; the returned record carries the clock's full precision.
    return a == dataclasses.replace(b, created_at=a.created_at) and _same_ms(a.created_at, b.created_at)


def _show(edges: Iterable[tuple[Node, Node, str]]) -> list[str]:
    return sorted(f"{src} -[{relation}]-> {dst}" for src, dst, relation in edges)


def _search_corpus(store: MetaStore) -> dict[str, str]:
    """Four runs that the filter cases tell apart; returns {run id: letter}."""
    runs = store.runs
    a = runs.create(
        "train-a",
        app="churn",
        kind="train",
        actor="ana",
        params={"model": "lgbm", "depth": 3, "max depth": "7"},
        tags={"team": "risk"},
    )
    runs.log(a, metrics=[Metric("acc", 0.5, 0), Metric("acc", 0.95, 1)])
    runs.finish(a)
    b = runs.create(
        "train-b", app="churn", kind="train", actor="bo", params={"model": "rf", "depth": 5}, tags={"team": "growth"}
    )
    runs.log(b, metrics=[Metric("acc", 0.8), Metric("val loss", 0.2)])
    runs.finish(b, "failed", error="boom")
    c = runs.create(
        "eval-c", app="fraud", kind="evaluate", actor="ana", params={"model": "lgbm"}, tags={"note": "salt and pepper"}
    )
    runs.log(c, metrics=[Metric("acc", 0.99, 0), Metric("acc", 0.85, 1)])  # latest is 0.85, not the max
    d = runs.create("prep-d", actor="bo")
    return {a: "a", b: "b", c: "c", d: "d"}


def _letters(ids: dict[str, str], found: list[Run]) -> str:
    return "".join(sorted(ids.get(run.id, "?") for run in found))
