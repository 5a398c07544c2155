"""A real SQLite metadata store, a model registered with the reference profile of a slice of elec2, and a
writer of prediction-log rows in the format the server stores (``ctml.serve`` ``LogChunk.record()``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from ctml.clock import SimulatedClock
from ctml.drift import profile
from ctml.ids import new_id
from ctml.meta import MetaStore, open_meta
from ctml.registry import ModelRegistry
from ctml.store import open_store

ELEC2 = Path("/work/shared/datasets/elec2/elec2.csv")
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # the champion's promotion
APP, MODEL = "elec", "elec-model"
FEATURES = ("date", "day", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer")

if not ELEC2.exists():  # pragma: no cover
    pytest.skip("elec2 is not available", allow_module_level=True)


@pytest.fixture(scope="session")
def elec2() -> pa.Table:
    """The first 8,000 rows of the stream: a random half is the training data, the rest held out (same period)."""
    return pacsv.read_csv(ELEC2).slice(0, 8000)


def _split(table: pa.Table) -> np.ndarray:
    # seeded and random: a split by row parity would put the odd half-hours ("period") on one side only
    return np.random.default_rng(0).permutation(table.num_rows) < table.num_rows // 2


def training(table: pa.Table) -> pa.Table:
    return table.filter(pa.array(_split(table)))


def held_out(table: pa.Table) -> pa.Table:
    return table.filter(pa.array(~_split(table)))


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    return table.select(list(FEATURES)).to_pylist()


@dataclass
class Env:
    meta: MetaStore
    registry: ModelRegistry
    clock: SimulatedClock

    def log(
        self,
        rows: Sequence[dict[str, Any]],
        predictions: Sequence[Any],
        at: datetime,
        *,
        route: str = "champion",
        version: int = 1,
        latency_ms: float = 2.0,
        batch: int = 100,
        error: str | None = None,
    ) -> list[str]:
        """Log ``rows`` as requests of up to ``batch`` rows at ``at``, as the server writes them; return the ids."""
        records, ids = self.requests(
            rows, predictions, at, route=route, version=version, latency_ms=latency_ms, batch=batch, error=error
        )
        self.meta.predictions.append(records)
        return ids

    def requests(
        self,
        rows: Sequence[dict[str, Any]],
        predictions: Sequence[Any],
        at: datetime,
        *,
        route: str = "champion",
        version: int = 1,
        latency_ms: float = 2.0,
        batch: int = 100,
        error: str | None = None,
    ) -> tuple[list[dict[str, Any]], list[str]]:
        ids: list[str] = []
        records = []
        for i in range(0, len(rows), batch):
            part, said = list(rows[i : i + batch]), list(predictions[i : i + batch])
            request = new_id(at)
            body = part[0] if len(part) == 1 else {"rows": part}
            answer: dict[str, Any]
            if error is not None:
                answer = {"error": {"status": 500, "message": error}}
            else:
                answer = {
                    "ids": [f"{request}-{j}" for j in range(len(part))],
                    "predictions": said,
                    "model": MODEL,
                    "version": version,
                    "route": route,
                    "classes": ["DOWN", "UP"],
                    "probabilities": [[0.3, 0.7] if p == "UP" else [0.7, 0.3] for p in said],
                }
            records.append(
                {
                    "id": request,
                    "app": APP,
                    "model": MODEL,
                    "version": version,
                    "route": route,
                    "rows": len(part),
                    "inputs": json.dumps(body, separators=(",", ":")),
                    "output": json.dumps(answer, separators=(",", ":")),
                    "latency_ms": latency_ms,
                    "at_ms": int(at.timestamp() * 1000),
                }
            )
            ids += [f"{request}-{j}" for j in range(len(part))]
        return records, ids

    def label(self, ids: Sequence[str], labels: Sequence[Any], at: datetime | None = None) -> None:
        result = self.meta.predictions.add_feedback(
            APP, {i: (json.dumps(y), at) for i, y in zip(ids, labels, strict=False)}
        )
        assert result.accepted == len(ids), result.unknown[:3]

    def spread(
        self, rows: Sequence[dict[str, Any]], predictions: Sequence[Any], start: datetime, span: timedelta, **kw: Any
    ) -> list[str]:
        """One request per row, spread evenly over ``[start, start + span)``."""
        step = span / len(rows)
        ids: list[str] = []
        records: list[dict[str, Any]] = []
        for i, (row, said) in enumerate(zip(rows, predictions, strict=False)):
            more, new = self.requests([row], [said], start + step * i, **kw)
            records += more
            ids += new
        self.meta.predictions.append(records)
        return ids


def make_env(tmp: Path, elec2: pa.Table, *, version_metrics: dict[str, float] | None = None) -> Env:
    clock = SimulatedClock(T0 - timedelta(hours=1))
    meta = open_meta(f"sqlite:///{tmp / 'meta.db'}", clock=clock)
    registry = ModelRegistry(meta, open_store(str(tmp / "artifacts")), actor="test")
    reference = profile(training(elec2).select(list(FEATURES))).to_json()
    registry.register(MODEL, b"model", app=APP, metrics=version_metrics, reference_profile=reference)
    clock.set(T0)
    registry.promote(MODEL, 1, reason="first model")
    return Env(meta, registry, clock)


@pytest.fixture
def env(tmp_path: Path, elec2: pa.Table) -> Iterator[Env]:
    made = make_env(tmp_path, elec2)
    yield made
    made.meta.close()
