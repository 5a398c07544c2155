"""The prediction log and the labels that arrive later, joined by prediction id.

The server writes one row per request, from a background thread (``append``): the request's inputs and
outputs as JSON arrays in row order, so a 100-row request costs one encoded document and one row, not a
hundred. Its predictions are ``<request id>-0`` .. ``<request id>-<n-1>``; readers (``window``, ``labeled``)
unfold requests back into one :class:`PredictionRecord` per prediction.

Labels arrive later, in any order and in batches (``add_feedback``). A label names its prediction by id: an
id the log does not hold is reported back, never stored, so the monitor's join only ever sees labels of real
predictions. Of two labels for one prediction the one with the later ``at`` wins, whatever order they came in.

>>> split_id("01JD3H2K5Q8X9Z7Y6W5V4T3S2R-17")
('01JD3H2K5Q8X9Z7Y6W5V4T3S2R', 17)
>>> split_id("not-an-id") is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, insert, null, select

from ctml.meta._records import load, must_ms, to_ms
from ctml.meta._schema import feedback, predictions
from ctml.meta._tx import Repo
from ctml.types import JSON

__all__ = [
    "Answer",
    "ArrivedLabel",
    "FeedbackResult",
    "LabeledPrediction",
    "PredictionRecord",
    "PredictionRepo",
    "split_id",
]

_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's bind limits
_RECORD_COLUMNS = ("id", "app", "model", "version", "route", "rows", "output", "latency_ms", "at_ms")


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
    """``accepted``: labels stored; ``unknown``: ids that are not logged predictions; ``first``: the ids among the
    accepted whose prediction had no label before (in the order given), ``received_ms`` their arrival stamp."""

    accepted: int
    unknown: tuple[str, ...]
    first: tuple[str, ...] = ()
    received_ms: int = 0


@dataclass(frozen=True)
class ArrivedLabel:
    """A prediction's first label in arrival order: what an online learner learns, and its cursor."""

    prediction_id: str
    label: JSON
    received_ms: int
    inputs: JSON


class Answer(NamedTuple):
    """One version's answer to one row (:meth:`PredictionRepo.answers`): ``row`` is the id of the prediction that
    answered it for real (a shadow answer names it), ``label`` that prediction's label (None while none arrived,
    and on a shadow answer)."""

    row: str
    version: int
    prediction: JSON
    shadow: bool
    label: JSON


def split_id(prediction_id: str) -> tuple[str, int] | None:
    """``(request id, row)`` of a prediction id, or None when it is not one."""
    head, sep, tail = prediction_id.rpartition("-")
    if not sep or not head or len(head) > 32 or not tail.isdigit() or len(tail) > 6:
        return None
    return head, int(tail)


class PredictionRepo(Repo):
    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert logged requests in one transaction: each a mapping of the ``predictions`` columns (``rows`` the
        number of predictions; ``inputs`` the request body, one row object or ``{"rows": [...]}``, and ``output``
        a JSON object with arrays ``predictions`` / ``probabilities``, both JSON text; ``at_ms`` Unix ms)."""
        if not rows:
            return
        with self._write() as conn:
            self._run(conn, insert(predictions), [dict(r) for r in rows])

    def count(self, app: str | None = None) -> int:
        """How many predictions (not requests) are logged."""
        stmt = select(func.coalesce(func.sum(predictions.c.rows), 0))
        if app is not None:
            stmt = stmt.where(predictions.c.app == app)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def window(
        self, app: str, *, start: datetime | None = None, end: datetime | None = None, limit: int = 10_000
    ) -> list[PredictionRecord]:
        """Predictions of ``app`` made in ``[start, end)``, oldest first (whole requests, at least ``limit``
        predictions when there are that many)."""
        return [p.prediction for p in self.labeled(app, start=start, end=end, limit=limit, with_labels=False)]

    def labeled(
        self,
        app: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        only_labeled: bool = False,
        limit: int = 10_000,
        with_labels: bool = True,
        newest: bool = False,
        with_inputs: bool = True,
        route: str | None = None,
        decoded: MutableMapping[str, list[PredictionRecord]] | None = None,
    ) -> list[LabeledPrediction]:
        """Predictions of ``app`` made in ``[start, end)`` with their labels (``None`` while none has arrived),
        oldest first; ``newest``: the last ``limit`` (whole requests) rather than the first; ``with_inputs``
        False leaves each record's ``inputs`` None (the request bodies are not decoded); ``route``: that route's
        predictions only.

        ``decoded`` is the caller's memo of unfolded requests by request id (one memo per ``with_inputs``): the
        window's requests found there are neither read nor decoded again, the others are added. The log is
        append-only, so a request's records never change; its labels are read on every call.
        """
        memo: MutableMapping[str, list[PredictionRecord]] = {} if decoded is None else decoded
        columns: list[Any] = [predictions.c[name] for name in _RECORD_COLUMNS]
        columns.append(predictions.c.inputs if with_inputs else null().label("inputs"))

        def windowed(*selected: Any) -> Any:
            stmt = self._windowed(select(*selected), app, start, end)
            return stmt if route is None else stmt.where(predictions.c.route == route)

        order: tuple[Any, ...] = (predictions.c.at_ms, predictions.c.id)
        if newest:
            order = (predictions.c.at_ms.desc(), predictions.c.id.desc())
        with self._read() as conn:
            # with a memo, the window's requests are listed first (three columns) and only the missing ones read
            listed = columns if decoded is None else [predictions.c.id, predictions.c.rows, predictions.c.at_ms]
            keys = list(conn.execute(windowed(*listed).order_by(*order).limit(limit)).all())
            # every request holds at least one prediction, so ``limit`` requests hold at least ``limit`` of them;
            # the newest are cut to whole requests holding ``limit`` predictions, the oldest likewise
            keys = _newest(keys, limit) if newest else _oldest(keys, limit)
            if not keys:
                return []
            rows = keys
            if decoded is not None:
                missing = {k.id: k.at_ms for k in keys if k.id not in memo}
                rows = []
                if missing:
                    span = windowed(*columns).where(
                        predictions.c.at_ms >= min(missing.values()), predictions.c.at_ms <= max(missing.values())
                    )
                    rows = [r for r in conn.execute(span) if r.id in missing]
            labels: dict[tuple[str, int], tuple[str, int]] = {}
            if with_labels:
                # the labels of every request of the window's span (a few more than these, none fewer), in one query
                query = (
                    select(feedback.c.batch_id, feedback.c.row, feedback.c.label, feedback.c.at_ms)
                    .join(predictions, predictions.c.id == feedback.c.batch_id)
                    .where(
                        predictions.c.app == app,
                        predictions.c.at_ms >= keys[0].at_ms,
                        predictions.c.at_ms <= keys[-1].at_ms,
                    )
                )
                if route is not None:
                    query = query.where(predictions.c.route == route)
                labels = {(batch_id, row): (label, at_ms) for batch_id, row, label, at_ms in conn.execute(query)}
        times: dict[int, datetime] = {}  # one datetime per distinct time: a window's requests and labels share few
        for r in rows:
            at = times.get(r.at_ms)
            if at is None:
                at = times[r.at_ms] = must_ms(r.at_ms)
            memo[r.id] = _unfold(r, at)
        out: list[LabeledPrediction] = []
        for k in keys:
            for i, record in enumerate(memo[k.id]):
                hit = labels.get((k.id, i))
                if hit is None:
                    if not only_labeled:
                        out.append(LabeledPrediction(record, None, None))
                else:
                    labeled_at = times.get(hit[1])
                    if labeled_at is None:
                        labeled_at = times[hit[1]] = must_ms(hit[1])
                    out.append(LabeledPrediction(record, load(hit[0]), labeled_at))
        return out

    def answers(
        self, app: str, *, limit: int, decoded: dict[str, tuple[int, int, tuple[Answer, ...]]] | None = None
    ) -> list[Answer]:
        """The newest ``limit`` predictions of ``app`` (whole requests), oldest first, as :class:`Answer` s; failed
        requests left out. What :meth:`labeled` would give (``newest=True``), with only what comparing versions
        needs read and decoded: no inputs, no records, the labels in one query.

        ``decoded``: the caller's memo of the requests the last call read (request id -> ``(at_ms, rows, answers
        with labels left None)``, in the log's order), for a caller that reads a window sliding over the log
        every cycle: only requests newer than the newest held are read and decoded (older ones when the window
        grew), and the memo is left holding exactly this window's requests. A logged request never changes; one
        written behind the newest held (a count of the stretch held tells) makes the call read afresh. Labels are
        read for the whole window every call: one may arrive, or be corrected, for a row read long ago."""
        memo: dict[str, tuple[int, int, tuple[Answer, ...]]] = {} if decoded is None else decoded
        with self._read() as conn:
            if not memo or not self._followed(conn, app, limit, memo):
                stmt = (
                    select(predictions.c.id, predictions.c.rows, predictions.c.at_ms)
                    .where(predictions.c.app == app)
                    .order_by(predictions.c.at_ms.desc(), predictions.c.id.desc())
                    .limit(limit)
                )
                window = self._decoded(conn, app, _newest(list(conn.execute(stmt).all()), limit))
                memo.clear()
                memo.update(window)
            labels: dict[tuple[str, int], str] = {}
            if memo:
                # the labels of every request since the oldest one read (a few more than these, none fewer)
                query = (
                    select(feedback.c.batch_id, feedback.c.row, feedback.c.label)
                    .join(predictions, predictions.c.id == feedback.c.batch_id)
                    .where(predictions.c.app == app, predictions.c.at_ms >= next(iter(memo.values()))[0])
                )
                labels = {(request, i): text for request, i, text in conn.execute(query)}
        out: list[Answer] = []
        for request, (_, _, held) in memo.items():
            if not held or held[0].shadow:
                out.extend(held)
                continue
            for i, (row, version, prediction, _, _) in enumerate(held):
                out.append(Answer(row, version, prediction, False, load(labels.get((request, i)))))
        return out

    def _followed(self, conn: Any, app: str, limit: int, memo: dict[str, tuple[int, int, tuple[Answer, ...]]]) -> bool:
        """Make ``memo`` hold the requests of the newest ``limit`` predictions: add the newer ones, older ones when
        the window grew past those held, and drop those it left behind. False (``memo`` unusable) when a request
        was written among those held after they were read."""
        first, last = next(iter(memo)), next(reversed(memo))
        (t0, _, _), (t1, _, _) = memo[first], memo[last]
        at, rid = predictions.c.at_ms, predictions.c.id
        stmt = (
            select(rid, predictions.c.version, predictions.c.rows, predictions.c.output, at)
            .where(predictions.c.app == app, (at > t1) | ((at == t1) & (rid > last)))
            .order_by(at, rid)
        )
        for r in conn.execute(stmt):
            memo[r.id] = (r.at_ms, r.rows, self._answers_of(r))
        since = select(func.count()).where(predictions.c.app == app, (at > t0) | ((at == t0) & (rid >= first)))
        if conn.execute(since).scalar_one() != len(memo):
            return False
        total = kept = 0
        for _, rows, _ in reversed(memo.values()):  # what _newest keeps: the newest requests holding ``limit`` rows
            if total >= limit:
                break
            total += rows
            kept += 1
        if total < limit:
            older = (
                select(rid, predictions.c.rows, at)
                .where(predictions.c.app == app, (at < t0) | ((at == t0) & (rid < first)))
                .order_by(at.desc(), rid.desc())
                .limit(limit - total)
            )
            held = dict(memo)
            memo.clear()
            memo.update(self._decoded(conn, app, _newest(list(conn.execute(older).all()), limit - total)))
            memo.update(held)
            return True
        for request in [r for r, _ in zip(memo, range(len(memo) - kept), strict=False)]:
            del memo[request]
        return True

    def _decoded(self, conn: Any, app: str, rows: Sequence[Any]) -> dict[str, tuple[int, int, tuple[Answer, ...]]]:
        """The requests ``rows`` (``id``, ``rows``, ``at_ms``; oldest first) decoded, in one read from the oldest."""
        if not rows:
            return {}
        wanted = {r.id for r in rows}
        stmt = select(predictions.c.id, predictions.c.version, predictions.c.rows, predictions.c.output).where(
            predictions.c.app == app, predictions.c.at_ms >= rows[0].at_ms, predictions.c.at_ms <= rows[-1].at_ms
        )
        found = {r.id: self._answers_of(r) for r in conn.execute(stmt) if r.id in wanted}
        return {r.id: (r.at_ms, r.rows, found[r.id]) for r in rows}

    @staticmethod
    def _answers_of(r: Any) -> tuple[Answer, ...]:
        """A logged request's answers, labels left None (none for a failed request)."""
        output = load(r.output)
        if not isinstance(output, dict):
            output = {}
        if output.get("error") is not None:
            return ()
        predicted = output.get("predictions")
        if not isinstance(predicted, list):
            predicted = []
        shadow_of = output.get("shadow_of")
        row, shadow = (r.id, False) if shadow_of is None else (shadow_of, True)
        said = predicted[: r.rows] + [None] * (r.rows - len(predicted))
        return tuple(Answer(f"{row}-{i}", r.version, answer, shadow, None) for i, answer in enumerate(said))

    def known(self, app: str, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` that are logged predictions of ``app``."""
        with self._read() as conn:
            return self._known(conn, app, ids)

    def add_feedback(
        self,
        app: str,
        labels: Mapping[str, tuple[str, datetime | None]],
        *,
        received_ms: int | None = None,
        stamps: Mapping[str, int] | None = None,
    ) -> FeedbackResult:
        """Store labels by prediction id (``id -> (label JSON text, label time or None for now)``).

        Ids that are not logged predictions of ``app`` are returned in ``unknown`` and not stored; a label
        older than the one already stored for its prediction is ignored. ``received_ms`` (default: now) stamps
        the labels' arrival, ``stamps`` a label of its own (a block of traffic keeps each label's place in the
        arrival order); a corrected label keeps its prediction's first arrival stamp, so the arrival order an
        online learner learned in (:meth:`arrived`) never changes afterwards.
        """
        now_ms = self._now_ms() if received_ms is None else received_ms
        own = stamps or {}
        ids = list(labels)
        stmt = self._upsert(feedback)
        stmt = stmt.on_conflict_do_update(
            index_elements=["prediction_id"],
            set_={"label": stmt.excluded.label, "at_ms": stmt.excluded.at_ms},
            where=stmt.excluded.at_ms >= feedback.c.at_ms,
        )
        with self._write() as conn:
            found = self._known(conn, app, ids)
            before: set[str] = set()
            known = [pid for pid in ids if pid in found]
            for i in range(0, len(known), _CHUNK):
                query = select(feedback.c.prediction_id).where(feedback.c.prediction_id.in_(known[i : i + _CHUNK]))
                before.update(conn.execute(query).scalars())
            rows = []
            for pid in ids:
                key = split_id(pid)
                if pid not in found or key is None:
                    continue
                label, at = labels[pid]
                stamp = own.get(pid, now_ms)
                rows.append(
                    {
                        "prediction_id": pid,
                        "batch_id": key[0],
                        "row": key[1],
                        "app": app,
                        "label": label,
                        "at_ms": stamp if at is None else to_ms(at),
                        "received_ms": stamp,
                    }
                )
            if rows:
                conn.execute(stmt, rows)
        first = tuple(pid for pid in dict.fromkeys(known) if pid not in before)
        return FeedbackResult(len(rows), tuple(pid for pid in ids if pid not in found), first, now_ms)

    def arrived(self, app: str, after_ms: int, *, limit: int = 10_000) -> list[ArrivedLabel]:
        """First labels of ``app`` stamped after ``after_ms``, in arrival order (stamp, then request and row), each
        with its prediction's input row. A server stamps each feedback batch with its own millisecond, so a
        stamp is a cursor between batches."""
        stmt = (
            select(
                feedback.c.prediction_id,
                feedback.c.batch_id,
                feedback.c.row,
                feedback.c.label,
                feedback.c.received_ms,
                predictions.c.inputs,
                predictions.c.rows,
            )
            .join(predictions, predictions.c.id == feedback.c.batch_id)
            .where(feedback.c.app == app, feedback.c.received_ms > after_ms)
            .order_by(feedback.c.received_ms, feedback.c.batch_id, feedback.c.row)
            .limit(limit)
        )
        with self._read() as conn:
            return [ArrivedLabel(r.prediction_id, load(r.label), int(r.received_ms), _row_of(r.inputs, r.rows, r.row))
                    for r in conn.execute(stmt)]  # fmt: skip

    def arrived_ids(self, app: str, ids: Sequence[str]) -> list[ArrivedLabel]:
        """The labels of the predictions ``ids`` of ``app`` (those that have one), each with its input row."""
        out: list[ArrivedLabel] = []
        for i in range(0, len(ids), _CHUNK):
            stmt = (
                select(
                    feedback.c.prediction_id,
                    feedback.c.row,
                    feedback.c.label,
                    feedback.c.received_ms,
                    predictions.c.inputs,
                    predictions.c.rows,
                )
                .join(predictions, predictions.c.id == feedback.c.batch_id)
                .where(feedback.c.app == app, feedback.c.prediction_id.in_(list(ids[i : i + _CHUNK])))
            )
            with self._read() as conn:
                for r in conn.execute(stmt):
                    out.append(ArrivedLabel(r.prediction_id, load(r.label), int(r.received_ms),
                                            _row_of(r.inputs, r.rows, r.row)))  # fmt: skip
        return out

    def last_arrival(self, app: str) -> int:
        """The newest arrival stamp of ``app``'s labels (0 when none arrived yet)."""
        stmt = select(func.max(feedback.c.received_ms)).where(feedback.c.app == app)
        with self._read() as conn:
            value = conn.execute(stmt).scalar()
        return 0 if value is None else int(value)

    def _known(self, conn: Any, app: str, ids: Sequence[str]) -> set[str]:
        wanted: dict[str, list[tuple[str, int]]] = {}
        for pid in ids:
            key = split_id(pid)
            if key is not None:
                wanted.setdefault(key[0], []).append((pid, key[1]))
        found: set[str] = set()
        batches = list(wanted)
        for i in range(0, len(batches), _CHUNK):
            query = select(predictions.c.id, predictions.c.rows).where(
                predictions.c.app == app, predictions.c.id.in_(batches[i : i + _CHUNK])
            )
            for batch_id, count in conn.execute(query):
                found.update(pid for pid, row in wanted[batch_id] if row < count)
        return found

    @staticmethod
    def _windowed(stmt: Any, app: str, start: datetime | None, end: datetime | None) -> Any:
        stmt = stmt.where(predictions.c.app == app)
        if start is not None:
            stmt = stmt.where(predictions.c.at_ms >= to_ms(start))
        if end is not None:
            stmt = stmt.where(predictions.c.at_ms < to_ms(end))
        return stmt


def _newest(rows: list[Any], limit: int) -> list[Any]:
    """Of requests read newest first, the newest holding ``limit`` predictions, oldest first."""
    kept: list[Any] = []
    total = 0
    for row in rows:
        if total >= limit:
            break
        kept.append(row)
        total += row.rows
    kept.reverse()
    return kept


def _row_of(inputs: str, count: int, row: int) -> JSON:
    """Row ``row`` of a logged request body (one row object, or ``{"rows": [...]}`` with ``count`` rows)."""
    body = load(inputs)
    rows = body.get("rows") if isinstance(body, dict) else None
    found: list[JSON] = rows if isinstance(rows, list) and len(rows) == count else [body]
    return found[row] if row < len(found) else None


def _oldest(rows: list[Any], limit: int) -> list[Any]:
    """Of requests read oldest first, the oldest holding ``limit`` predictions (the last may overshoot it)."""
    total = 0
    for n, row in enumerate(rows):
        total += row.rows
        if total >= limit:
            return rows[: n + 1]
    return rows


def _unfold(r: Any, at: datetime) -> list[PredictionRecord]:
    """One request row as its predictions, made at ``at``: ``inputs`` is the request body (one row object or
    ``{"rows": [...]}``; None when not read), ``output`` the answer (``predictions``, ``probabilities``; a shadow's
    names ``shadow_of``)."""
    body = load(r.inputs)
    count = r.rows
    rows = body.get("rows") if isinstance(body, dict) else None
    inputs: list[JSON] = rows if isinstance(rows, list) and len(rows) == count else [body]
    output = load(r.output)
    if not isinstance(output, dict):
        output = {}
    predicted = output.get("predictions")
    if not isinstance(predicted, list):
        predicted = []
    proba = output.get("probabilities")
    if not isinstance(proba, list):
        proba = []
    shadow_of = output.get("shadow_of")
    error = output.get("error")
    request, app, model, version, route, latency = r.id, r.app, r.model, r.version, r.route, r.latency_ms
    out = []
    for i in range(count):
        result: dict[str, JSON]
        if error is not None:
            result = {"error": error}
        else:
            result = {"prediction": predicted[i] if i < len(predicted) else None}
            if i < len(proba):
                result["probabilities"] = proba[i]
        if shadow_of is not None:
            result["shadow_of"] = f"{shadow_of}-{i}"
        row = inputs[i] if i < len(inputs) else None
        out.append(PredictionRecord(f"{request}-{i}", app, model, version, route, row, result, latency, at))
    return out
