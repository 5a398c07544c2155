"""A block of traffic answered in one call: rows and the labels that arrive between them, in arrival order.

This is the server's second entry, beside ``/predict`` and ``/feedback``, for traffic that is already known: a
backtest replaying history, a bulk import. It runs the same routing, the same versions, the same learners and
the same prediction log as the per-request path, and gives the same answers, but pays for transport once a
block instead of once a row:

- every row is routed as one request would be (champion or canary, by the router, in row order), and answered
  by that version; the shadow and every challenger listen to it, as ``/predict``'s background task does;
- a version that does not learn cannot change inside the block: it predicts all its rows in one call;
- a version that learns predicts each row before it learns the labels that arrive after it: a label that
  arrives after row ``k`` was answered is learned between rows ``k`` and ``k + 1``, as a ``/feedback`` call
  between two requests would be. Each label is learned once (its prediction's first label);
- the log gets one record per row and version (ids, inputs and answers as ``/predict`` writes them) in one
  write, and the labels one ``add_feedback``, each stamped with its own place in the arrival order.

The app's learning lock is held for the whole block, so a concurrent request waits until the block is done.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING, Any

import numpy as np

from ctml.clock import WallClock
from ctml.errors import ConfigError, CtmlError
from ctml.ids import new_id
from ctml.meta._records import must_ms
from ctml.serve._codec import dumps
from ctml.serve._loaded import LoadedModel
from ctml.types import JSON

if TYPE_CHECKING:
    from ctml.serve._server import ModelServer

__all__ = ["Arrival", "Block", "BlockAnswer", "answer_block"]

_WRITE_ROWS = 5_000  # log records per insert


@dataclass(frozen=True, slots=True)
class Arrival:
    """A label arriving once ``after`` rows of the block were answered (0: before the first): ``target`` is a row
    of this block (its index) or the id of a prediction logged before; ``at_ms``: the label's time."""

    after: int
    target: int | str
    label: JSON
    at_ms: int


@dataclass(frozen=True)
class Block:
    """``rows`` (float64, one column per name in ``columns``), each requested at ``at_ms``, and the labels that
    arrive among them, in arrival order."""

    columns: tuple[str, ...]
    rows: np.ndarray
    at_ms: Sequence[int]
    labels: Sequence[Arrival] = ()

    def __post_init__(self) -> None:
        rows = np.asarray(self.rows, dtype=np.float64)
        n = len(rows)
        if rows.ndim != 2 or rows.shape[1] != len(self.columns):
            raise ConfigError(f"A block's rows must be a matrix with one column per name ({len(self.columns)}). "
                              f"Got shape {rows.shape}.")  # fmt: skip
        if len(self.at_ms) != n:
            raise ConfigError(f"A block needs one request time per row ({n}). Got {len(self.at_ms)}.")
        if not np.isfinite(rows).all():
            raise ConfigError("A block's rows must be finite numbers; found NaN or an infinity.")
        last = 0
        for i, a in enumerate(self.labels):
            if not 0 <= a.after <= n or a.after < last:
                raise ConfigError(f"labels[{i}] arrives after {a.after} rows: labels come in arrival order, "
                                  f"after 0..{n} rows of the block.")  # fmt: skip
            if isinstance(a.target, int) and not 0 <= a.target < min(n, a.after):
                raise ConfigError(f"labels[{i}] names row {a.target}, which is not answered yet after {a.after} rows.")
            last = a.after
        object.__setattr__(self, "rows", rows)


@dataclass(frozen=True)
class BlockAnswer:
    """Each row's prediction id, answer, route and answering version; the labels stored and the ids not known;
    ``seconds``: where the time went (``predict vN``, ``predict and learn vN``, ``log``, ``labels``, ``snapshots``)."""

    ids: list[str]
    predictions: list[JSON]
    routes: list[str]
    versions: list[int]
    accepted: int
    unknown: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Part:
    """One version's share of the block: the rows it answers or listens to, and the route it has on each."""

    served: LoadedModel
    rows: list[int] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    probabilities: list[Any] | None = None
    seconds: float = 0.0


def answer_block(server: ModelServer, app: str, block: Block) -> BlockAnswer:
    """Answer ``block`` for ``app`` on ``server`` (see the module doc)."""
    slot = server.slots.get(app)
    if slot is None:
        raise ConfigError(f"No app {app!r} is served here. Served apps: {sorted(server.slots)}.")
    routes = slot.routes
    if routes is None:
        raise CtmlError(f"The app {app!r} is still loading its models: {slot.last_error or 'no routes yet'}.")
    wall = WallClock()
    seconds: dict[str, float] = {}
    n = len(block.rows)
    batches = [new_id(must_ms(at)) for at in block.at_ms]
    ids = [f"{b}-0" for b in batches]
    answering, parts = _plan(server, app, routes, block)
    learners = server.learners
    learning = {(s.model, s.version) for s in learners.learning(app)} if learners.enabled else set()
    with learners.lock(app):
        stamps = learners.stamps(app, len(block.labels))
        began = wall.monotonic()
        first, stored, prior_rows, unknown = _prior_labels(server, app, block, stamps)
        seconds["labels"] = wall.monotonic() - began
        for part in parts.values():
            X = _matrix(part.served, block)
            if (part.served.model, part.served.version) in learning:
                _learn_through(server, app, part, X, block, ids, stamps, first, prior_rows, seconds)
            else:
                began = wall.monotonic()
                part.predictions, part.probabilities = part.served.predict(X[part.rows])
                part.seconds = seconds[f"predict v{part.served.version}"] = wall.monotonic() - began
        began = wall.monotonic()
        _log(server, app, block, batches, ids, answering, parts)
        matrices = {s.version: _matrix(s, block) for s in answering}  # once a version, not once a row
        for k, batch in enumerate(batches):
            learners.remember(app, batch, matrices[answering[k].version][k : k + 1])
        seconds["log"] = wall.monotonic() - began
        began = wall.monotonic()
        mine = {ids[t]: v for t, v in stored.items() if isinstance(t, int)}
        result = server.meta.predictions.add_feedback(app, {p: v[0] for p, v in mine.items()},
                                                      stamps={p: v[1] for p, v in mine.items()})  # fmt: skip
        seconds["labels"] += wall.monotonic() - began
    began = wall.monotonic()
    learners.snapshot_due(app)
    seconds["snapshots"] = wall.monotonic() - began
    predictions: list[JSON] = [None] * n
    for part in parts.values():
        for k, route, p in zip(part.rows, part.routes, part.predictions, strict=True):
            if route in ("champion", "canary"):
                predictions[k] = p
    for (route, version), group in groupby(sorted((_route(routes, s), s.version) for s in answering)):
        server.metrics.predictions.labels(app, route, str(version)).inc(len(list(group)))
    accepted = result.accepted + sum(1 for t in stored if isinstance(t, str) and t not in unknown)
    return BlockAnswer(ids, predictions, [_route(routes, s) for s in answering], [s.version for s in answering],
                       accepted, unknown + result.unknown, seconds)  # fmt: skip


def _route(routes: Any, served: LoadedModel) -> str:
    return "canary" if routes.canary is not None and served is routes.canary else "champion"


def _plan(server: ModelServer, app: str, routes: Any, block: Block) -> tuple[list[LoadedModel], dict[int, _Part]]:
    """Which version answers each row (routed as one request each, in row order) and which listen to it."""
    answering: list[LoadedModel] = []
    parts: dict[int, _Part] = {}

    def take(served: LoadedModel, k: int, route: str) -> None:
        part = parts.setdefault(served.version, _Part(served))
        part.rows.append(k)
        part.routes.append(route)

    for k in range(len(block.rows)):
        route = "champion"
        if routes.canary is not None:
            first = dict(zip(block.columns, block.rows[k].tolist(), strict=True))
            route = server.router.choose(app, routes, server.router.sticky_key(routes, {}, first))
        served = routes.canary if route == "canary" and routes.canary is not None else routes.champion
        answering.append(served)
        take(served, k, route)
        if routes.shadow is not None:
            take(routes.shadow, k, "shadow")
        done = {served.version, None if routes.shadow is None else routes.shadow.version}
        for challenger in routes.challengers:
            if challenger.version not in done:
                done.add(challenger.version)
                take(challenger, k, "challenger")
    return answering, parts


def _matrix(served: LoadedModel, block: Block) -> np.ndarray:
    """The block's rows in ``served``'s feature order."""
    names = served.codec.names
    if names == block.columns:
        return block.rows
    index = {c: i for i, c in enumerate(block.columns)}
    missing = [n for n in names if n not in index]
    if missing:
        raise ConfigError(f"{served.model} v{served.version} needs the features {missing}, which the block lacks.")
    return block.rows[:, [index[n] for n in names]]


def _prior_labels(
    server: ModelServer, app: str, block: Block, stamps: list[int]
) -> tuple[set[int], dict[int | str, tuple[tuple[str, datetime], int]], dict[str, np.ndarray], tuple[str, ...]]:
    """Which arrivals are learned (their prediction's first label, once), what each target stores (the label with
    the latest time, stamped with its first arrival), and the labels of predictions logged before the block: stored
    now, with the input rows to learn them from."""
    stored: dict[int | str, tuple[tuple[str, datetime], int]] = {}
    first_of: dict[int | str, int] = {}
    for i, a in enumerate(block.labels):
        value = (dumps(a.label).decode(), must_ms(a.at_ms))
        if a.target not in first_of:
            first_of[a.target] = i
            stored[a.target] = (value, stamps[i])
        elif value[1] >= stored[a.target][0][1]:
            stored[a.target] = (value, stored[a.target][1])
    earlier = {t: v for t, v in stored.items() if isinstance(t, str)}
    first = {i for t, i in first_of.items() if isinstance(t, int)}
    if not earlier:
        return first, stored, {}, ()
    result = server.meta.predictions.add_feedback(app, {t: v[0] for t, v in earlier.items()},
                                                  stamps={t: v[1] for t, v in earlier.items()})  # fmt: skip
    new = set(result.first)
    first |= {first_of[t] for t in new}
    rows = server.learners.cached(app, new)
    missing = [t for t in new if t not in rows]
    if missing:  # evicted from this server's cache (or predicted by another process): read them from the log
        routes = server.slots[app].routes
        assert routes is not None
        for found in server.meta.predictions.arrived_ids(app, missing):
            try:
                rows[found.prediction_id] = routes.champion.codec.matrix([found.inputs])[0]
            except Exception:  # a row the champion's signature cannot read is not learned, as in /feedback
                continue
    return first, stored, rows, result.unknown


def _learn_through(
    server: ModelServer,
    app: str,
    part: _Part,
    X: np.ndarray,
    block: Block,
    ids: list[str],
    stamps: list[int],
    first: set[int],
    prior_rows: dict[str, np.ndarray],
    seconds: dict[str, float],
) -> None:
    """Predict ``part``'s rows in order, learning each label between the rows it arrived between: one
    :meth:`ctml.flavors.Model.prequential` call, its lessons the labels due before each of the version's rows."""
    served = part.served
    learners = server.learners
    lessons: list[tuple[int, np.ndarray, np.ndarray]] = []
    learned = 0
    cursor: tuple[int, str] | None = None
    rows: list[np.ndarray] = []
    ys: list[Any] = []
    at = -1

    def close() -> None:
        nonlocal learned
        lesson = learners.lesson(app, served, rows, ys)
        if lesson is not None:
            lessons.append((at, *lesson))
            learned += len(lesson[0])
        rows.clear()
        ys.clear()

    for a, arrival in enumerate(block.labels):
        if a not in first:
            continue
        target = arrival.target
        row = X[target] if isinstance(target, int) else prior_rows.get(target)
        if row is None:
            continue
        k = bisect_left(part.rows, arrival.after)  # before the version's first row answered after it arrived
        if k != at:
            close()
            at = k
        rows.append(row)
        ys.append(arrival.label)
        cursor = (stamps[a], ids[target] if isinstance(target, int) else target)
    close()
    wall = WallClock()
    began = wall.monotonic()
    out, proba = served.loaded.prequential(X[part.rows], lessons)
    part.predictions, part.probabilities = served.answers(out, proba)
    part.seconds = seconds[f"predict and learn v{served.version}"] = wall.monotonic() - began
    if cursor is not None:
        learners.learned(app, served, learned, cursor)


def _log(
    server: ModelServer,
    app: str,
    block: Block,
    batches: list[str],
    ids: list[str],
    answering: list[LoadedModel],
    parts: dict[int, _Part],
) -> None:
    """One log record per row and version, as ``/predict`` and its listeners write them, in one transaction."""
    inputs = [dumps({"rows": [dict(zip(block.columns, row, strict=True))]}).decode() for row in block.rows.tolist()]
    records: list[dict[str, Any]] = []
    for part in parts.values():
        served = part.served
        proba = part.probabilities
        classes = list(served.classes or ())
        latency_ms = 1000.0 * part.seconds / max(1, len(part.rows))  # the block's predict time, shared out
        for j, (k, route) in enumerate(zip(part.rows, part.routes, strict=True)):
            p = proba[j] if proba is not None else None
            if route in ("champion", "canary"):
                body: dict[str, Any] = {"ids": [ids[k]], "predictions": [part.predictions[j]], "model": served.model,
                                        "version": served.version, "route": route}  # fmt: skip
                if p is not None:
                    body["classes"] = classes
                    body["probabilities"] = [p]
                batch = batches[k]
            else:
                body = {"predictions": [part.predictions[j]], "probabilities": None if p is None else [p],
                        "shadow_of": batches[k]}  # fmt: skip
                batch = new_id(must_ms(block.at_ms[k]))
            records.append({"id": batch, "app": app, "model": served.model, "version": served.version, "route": route,
                            "rows": 1, "inputs": inputs[k], "output": dumps(body).decode(), "latency_ms": latency_ms,
                            "at_ms": int(block.at_ms[k])})  # fmt: skip
    for start in range(0, len(records), _WRITE_ROWS):
        server.meta.predictions.append(records[start : start + _WRITE_ROWS])
