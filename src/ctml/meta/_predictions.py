"""The prediction log and the labels that arrive later, joined by prediction id.

The server writes predictions in batches from a background thread (``append``); labels arrive later, in any
order and in batches (``add_feedback``). A label names its prediction by id: an id the log does not hold is
reported back, never stored, so the monitor's join (``labeled``) only ever sees labels of real predictions.
Of two labels for one prediction the one with the later ``at`` wins, whatever order they arrived in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from ctml.meta._records import from_ms, load, must_ms, to_ms
from ctml.meta._schema import feedback, predictions
from ctml.meta._tx import Repo
from ctml.types import JSON

__all__ = ["FeedbackResult", "LabeledPrediction", "PredictionRecord", "PredictionRepo"]

_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's bind limits


@dataclass(frozen=True)
class PredictionRecord:
    id: str
    app: str
    model: str
    version: int
    route: str
    inputs: JSON
    output: JSON
    latency_ms: float
    at: datetime


@dataclass(frozen=True)
class LabeledPrediction:
    """A prediction with its label (``None`` while none has arrived) and the label's time."""

    prediction: PredictionRecord
    label: JSON
    labeled_at: datetime | None


@dataclass(frozen=True)
class FeedbackResult:
    accepted: int
    unknown: tuple[str, ...]


class PredictionRepo(Repo):
    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert logged predictions in one transaction: each a mapping of the ``predictions`` columns
        (``inputs`` and ``output`` already JSON text, ``at_ms`` Unix milliseconds)."""
        if not rows:
            return
        with self._write() as conn:
            self._run(conn, insert(predictions), [dict(r) for r in rows])

    def count(self, app: str | None = None) -> int:
        stmt = select(func.count()).select_from(predictions)
        if app is not None:
            stmt = stmt.where(predictions.c.app == app)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def window(
        self, app: str, *, start: datetime | None = None, end: datetime | None = None, limit: int = 10_000
    ) -> list[PredictionRecord]:
        """Predictions of ``app`` made in ``[start, end)``, oldest first."""
        stmt = self._windowed(select(predictions), app, start, end).order_by(predictions.c.at_ms, predictions.c.id)
        with self._read() as conn:
            return [_record(r) for r in conn.execute(stmt.limit(limit))]

    def labeled(
        self,
        app: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        only_labeled: bool = False,
        limit: int = 10_000,
    ) -> list[LabeledPrediction]:
        """Predictions of ``app`` made in ``[start, end)`` joined to their labels, oldest first."""
        joined = predictions.outerjoin(feedback, feedback.c.prediction_id == predictions.c.id)
        stmt = select(predictions, feedback.c.label, feedback.c.at_ms.label("labeled_ms")).select_from(joined)
        stmt = self._windowed(stmt, app, start, end)
        if only_labeled:
            stmt = stmt.where(feedback.c.prediction_id.is_not(None))
        stmt = stmt.order_by(predictions.c.at_ms, predictions.c.id).limit(limit)
        with self._read() as conn:
            return [LabeledPrediction(_record(r), load(r.label), from_ms(r.labeled_ms)) for r in conn.execute(stmt)]

    def known(self, app: str, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` that are logged predictions of ``app``."""
        found: set[str] = set()
        with self._read() as conn:
            for i in range(0, len(ids), _CHUNK):
                chunk = list(ids[i : i + _CHUNK])
                stmt = select(predictions.c.id).where(predictions.c.app == app, predictions.c.id.in_(chunk))
                found.update(conn.execute(stmt).scalars())
        return found

    def add_feedback(self, app: str, labels: Mapping[str, tuple[str, datetime | None]]) -> FeedbackResult:
        """Store labels by prediction id (``id -> (label JSON text, label time or None for now)``).

        Ids that are not logged predictions of ``app`` are returned in ``unknown`` and not stored; a label
        older than the one already stored for its prediction is ignored.
        """
        now_ms = self._now_ms()
        ids = list(labels)
        stmt = self._upsert(feedback)
        stmt = stmt.on_conflict_do_update(
            index_elements=["prediction_id"],
            set_={"label": stmt.excluded.label, "at_ms": stmt.excluded.at_ms, "received_ms": stmt.excluded.received_ms},
            where=stmt.excluded.at_ms >= feedback.c.at_ms,
        )
        with self._write() as conn:
            found: set[str] = set()
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                query = select(predictions.c.id).where(predictions.c.app == app, predictions.c.id.in_(chunk))
                found.update(conn.execute(query).scalars())
            rows = [
                {
                    "prediction_id": pid,
                    "app": app,
                    "label": labels[pid][0],
                    "at_ms": now_ms if labels[pid][1] is None else to_ms(labels[pid][1]),  # type: ignore[arg-type]
                    "received_ms": now_ms,
                }
                for pid in ids
                if pid in found
            ]
            if rows:
                conn.execute(stmt, rows)
        return FeedbackResult(len(rows), tuple(pid for pid in ids if pid not in found))

    @staticmethod
    def _windowed(stmt: Any, app: str, start: datetime | None, end: datetime | None) -> Any:
        stmt = stmt.where(predictions.c.app == app)
        if start is not None:
            stmt = stmt.where(predictions.c.at_ms >= to_ms(start))
        if end is not None:
            stmt = stmt.where(predictions.c.at_ms < to_ms(end))
        return stmt


def _record(r: Any) -> PredictionRecord:
    return PredictionRecord(
        r.id, r.app, r.model, r.version, r.route, load(r.inputs), load(r.output), r.latency_ms, must_ms(r.at_ms)
    )
