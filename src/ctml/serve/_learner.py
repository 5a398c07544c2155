"""Online learning in the server: versions that can learn are updated from ``/feedback`` labels as they arrive.

Test-then-train: a row's prediction is answered and logged before its label can arrive, so every logged
prediction of a learning version was made without that row's label. What it learns, and in what order:

- each prediction's *first* label, once; a corrected label is stored but not learned again;
- in arrival order. A server stamps every feedback batch with its own millisecond per app (strictly
  increasing), learns the batch in (request, row) order while holding the app's lock, and the feedback table
  keeps that stamp (:meth:`ctml.meta.PredictionRepo.arrived` reads labels back in exactly this order);
- by every version of the app that learns: the champion, a canary, a shadow and every challenger of its
  route table, each from the same labels.

Snapshots. When a learning version is loaded it is restored from its newest snapshot (or, the first time, from
its registry artifact, recorded at once as snapshot 1 with the current arrival stamp as its cursor), and the
labels that arrived after the snapshot's cursor are learned again from the prediction log. Every ``every_labels``
labels or ``every_s`` seconds (and when the server stops) the learned state is written to the artifact store as
the version's next snapshot with its cursor. A ``kill -9`` therefore loses nothing and repeats nothing: the
restarted server resumes from the last snapshot and learns exactly the labels after it, in the same order.

One process learns an app. With several server processes, one of them (``learn=True``) owns the updates and
the others serve snapshots (``learn=False``: they load the newest snapshot when the watcher polls); see
docs/serving.md.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from ctml.clock import Clock
from ctml.errors import CtmlError, SchemaError
from ctml.flavors import Model
from ctml.flavors._signature import encode_labels
from ctml.meta import MetaStore, Snapshot
from ctml.meta._predictions import split_id
from ctml.meta._records import to_ms
from ctml.serve._codec import BadRequest
from ctml.serve._loaded import LoadedModel, with_model
from ctml.store import ArtifactStore

__all__ = ["LearnerStats", "Learners", "Lesson"]

Lesson = tuple[np.ndarray, np.ndarray]
"""Checked rows (float64, signature order) and their encoded labels, as :meth:`ctml.flavors.Model.learn` takes
them."""

_log = logging.getLogger("ctml.serve")
_CHUNK = 64  # rows learned per lock hold: predictions wait at most one chunk


@dataclass
class LearnerStats:
    """What one learning version did since this server loaded it."""

    learned: int = 0
    replayed: int = 0
    skipped: int = 0
    snapshots: int = 0
    since_snapshot: int = 0
    cursor_ms: int = 0
    cursor_id: str = ""
    last_snapshot_s: float = 0.0


@dataclass
class _App:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_ms: int = -1
    recent: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    rows_cached: int = 0


class Learners:
    """The learning versions of every served app, their snapshots and the recent request rows they learn from."""

    def __init__(
        self,
        meta: MetaStore,
        artifacts: ArtifactStore,
        clock: Clock,
        *,
        every_labels: int = 1000,
        every_s: float = 60.0,
        cache_rows: int = 200_000,
        learn: bool = True,
    ) -> None:
        self.meta = meta
        self.artifacts = artifacts
        self.clock = clock
        self.every_labels = every_labels
        self.every_s = every_s
        self.cache_rows = cache_rows
        self.enabled = learn
        self.stats: dict[tuple[str, str, int], LearnerStats] = {}
        self._apps: dict[str, _App] = {}
        self._live: dict[str, list[LoadedModel]] = {}
        self._followed: dict[tuple[str, str, int], int] = {}
        self._guard = threading.Lock()

    def lock(self, app: str) -> threading.Lock:
        """The lock a prediction of a learning version holds: learning and predicting never overlap."""
        return self._app(app).lock

    # -- which versions learn --------------------------------------------------------------------------------

    def restore(self, app: str, served: LoadedModel) -> LoadedModel:
        """A just-loaded learning version brought to where it got to: its newest snapshot, then the labels since
        (``served`` itself when it does not learn)."""
        if not served.loaded.learns:
            return served
        key = (app, served.model, served.version)
        state = self._app(app)
        with state.lock:
            snapshot = self.meta.snapshots.latest(app, served.model, served.version)
            stats = LearnerStats(last_snapshot_s=self.clock.monotonic())
            if snapshot is None:
                cursor = self.meta.predictions.last_arrival(app)
                record = self.meta.models.get_version(served.model, served.version)
                digest = record.artifact_digest or served.digest
                self.meta.snapshots.add(app, served.model, served.version, digest=digest, labels=0,
                                        cursor_ms=cursor)  # fmt: skip
                stats.cursor_ms = cursor
            else:
                model = Model.from_bytes(self.artifacts.get_bytes(snapshot.digest), digest=snapshot.digest)
                served = with_model(served, model)
                stats.cursor_ms, stats.cursor_id = snapshot.cursor_ms, snapshot.cursor_id
                stats.learned = snapshot.labels
            self.stats[key] = stats
            self._replay(app, served, stats)
            state.last_ms = max(state.last_ms, stats.cursor_ms)
        return served

    def follow(self, app: str, served: LoadedModel) -> LoadedModel:
        """A server that does not learn (``learn=False``) serves a learning version from its newest snapshot, as
        the server that owns the updates wrote it (the registry artifact until there is one)."""
        return self.newer(app, served) or served

    def newer(self, app: str, served: LoadedModel) -> LoadedModel | None:
        """``served`` answering from its newest snapshot, when that is newer than the one it serves; else None."""
        if not served.loaded.learns:
            return None
        key = (app, served.model, served.version)
        snapshot = self.meta.snapshots.latest(app, served.model, served.version)
        if snapshot is None or snapshot.seq <= self._followed.get(key, 0):
            return None
        model = Model.from_bytes(self.artifacts.get_bytes(snapshot.digest), digest=snapshot.digest)
        self._followed[key] = snapshot.seq
        return with_model(served, model)

    def serve(self, app: str, versions: Iterable[LoadedModel]) -> None:
        """The versions of ``app`` that learn from now on (its routes changed)."""
        learning: dict[tuple[str, int], LoadedModel] = {}
        for served in versions:
            if served.loaded.learns:
                learning.setdefault((served.model, served.version), served)
        with self._guard:
            self._live[app] = list(learning.values())

    def learning(self, app: str) -> list[LoadedModel]:
        return list(self._live.get(app, ()))

    # -- the request path --------------------------------------------------------------------------------------

    def remember(self, app: str, batch: str, X: np.ndarray) -> None:
        """Keep a request's checked rows until its labels come (bounded: the oldest requests are dropped)."""
        if not self._live.get(app):
            return
        state = self._app(app)
        state.recent[batch] = X
        state.rows_cached += len(X)
        while state.rows_cached > self.cache_rows and state.recent:
            _, old = state.recent.popitem(last=False)
            state.rows_cached -= len(old)

    def feedback(self, app: str, labels: Mapping[str, tuple[str, datetime | None]]) -> Any:  # -> FeedbackResult
        """Store ``labels`` and learn the first labels among them, under the app's lock (see the module doc)."""
        state = self._app(app)
        learning = self._live.get(app, []) if self.enabled else []
        with state.lock:
            if state.last_ms < 0:
                state.last_ms = self.meta.predictions.last_arrival(app)
            stamp = max(to_ms(self.clock.now()), state.last_ms + 1)
            result = self.meta.predictions.add_feedback(app, labels, received_ms=stamp)
            state.last_ms = stamp
        if not learning or not result.first:
            return result
        ordered = sorted(result.first, key=_order)
        pairs = [(pid, labels[pid][0]) for pid in ordered]
        for start in range(0, len(pairs), _CHUNK):
            with state.lock:
                for served in learning:
                    stats = self.stats.get((app, served.model, served.version))
                    if stats is None:
                        continue
                    self._learn(app, served, state, pairs[start : start + _CHUNK], stats, stamp)
        with state.lock:
            for served in learning:
                stats = self.stats.get((app, served.model, served.version))
                if stats is not None and self._due(stats):
                    self._snapshot(app, served, stats)
        return result

    # -- a block of traffic (ModelServer.answer_block) ---------------------------------------------------------

    def stamps(self, app: str, count: int) -> list[int]:
        """``count`` consecutive arrival stamps for labels that arrive now, after every stamp given before (the
        caller holds :meth:`lock`)."""
        state = self._app(app)
        if state.last_ms < 0:
            state.last_ms = self.meta.predictions.last_arrival(app)
        first = max(to_ms(self.clock.now()), state.last_ms + 1)
        state.last_ms = max(state.last_ms, first + count - 1)
        return list(range(first, first + count))

    def cached(self, app: str, pids: Iterable[str]) -> dict[str, np.ndarray]:
        """The input rows of ``pids`` that this server still holds (:meth:`remember`), by prediction id."""
        recent = self._app(app).recent
        out: dict[str, np.ndarray] = {}
        for pid in pids:
            key = split_id(pid)
            X = None if key is None else recent.get(key[0])
            if X is not None and key is not None and key[1] < len(X):
                out[pid] = X[key[1]]
        return out

    def lesson(self, app: str, served: LoadedModel, rows: list[np.ndarray], labels: list[Any]) -> Lesson | None:
        """``rows`` and their ``labels`` (decoded JSON values) as ``served`` learns them: checked rows and encoded
        labels, less the labels of a class it never saw (counted as skipped); None when nothing is left to learn,
        or ``served`` does not learn in this server. A block of traffic hands lessons to
        :meth:`ctml.flavors.Model.prequential` and tells :meth:`learned` what it learned."""
        stats = self.stats.get((app, served.model, served.version))
        if stats is None or not self.enabled or not rows:
            return None
        return self._encode(served, rows, labels, stats)

    def learned(self, app: str, served: LoadedModel, rows: int, cursor: tuple[int, str]) -> None:
        """``served`` learned ``rows`` more rows, up to the label at ``cursor`` (arrival stamp, prediction id)."""
        stats = self.stats.get((app, served.model, served.version))
        if stats is None:
            return
        stats.learned += rows
        stats.since_snapshot += rows
        stats.cursor_ms, stats.cursor_id = cursor

    def snapshot_due(self, app: str) -> None:
        """Snapshot the learning versions of ``app`` that are due (every ``every_labels`` labels or ``every_s``)."""
        with self._app(app).lock:
            for served in self._live.get(app, []):
                stats = self.stats.get((app, served.model, served.version))
                if stats is not None and self._due(stats):
                    self._snapshot(app, served, stats)

    def flush(self) -> None:
        """Snapshot every learning version that learned since its last snapshot (a clean stop)."""
        for app, versions in list(self._live.items()):
            with self._app(app).lock:
                for served in versions:
                    stats = self.stats.get((app, served.model, served.version))
                    if stats is not None and stats.since_snapshot > 0:
                        self._snapshot(app, served, stats)

    # -- internals ---------------------------------------------------------------------------------------------

    def _app(self, app: str) -> _App:
        state = self._apps.get(app)
        if state is None:
            with self._guard:
                state = self._apps.setdefault(app, _App())
        return state

    def _due(self, stats: LearnerStats) -> bool:
        if stats.since_snapshot <= 0:
            return False
        return stats.since_snapshot >= self.every_labels or (
            self.clock.monotonic() - stats.last_snapshot_s >= self.every_s
        )

    def _learn(
        self, app: str, served: LoadedModel, state: _App, pairs: list[tuple[str, str]], stats: LearnerStats, stamp: int
    ) -> None:
        rows: list[np.ndarray] = []
        ys: list[Any] = []
        missing: list[str] = []
        for pid, label in pairs:
            key = split_id(pid)
            X = None if key is None else state.recent.get(key[0])
            if X is None or key is None or key[1] >= len(X):
                missing.append(pid)
                continue
            rows.append(X[key[1]])
            ys.append(json.loads(label))
        if missing:  # evicted from the cache (or another process predicted them): read them from the log
            found = {a.prediction_id: a for a in self.meta.predictions.arrived_ids(app, missing)}
            for pid in missing:
                arrived = found.get(pid)
                if arrived is None:
                    stats.skipped += 1
                    continue
                try:
                    rows.append(served.codec.matrix([arrived.inputs])[0])
                except BadRequest:
                    stats.skipped += 1
                    continue
                ys.append(arrived.label)
        self._fit(served, rows, ys, stats)
        stats.cursor_ms, stats.cursor_id = stamp, pairs[-1][0]

    def _fit(self, served: LoadedModel, rows: list[np.ndarray], ys: list[Any], stats: LearnerStats) -> None:
        lesson = self._encode(served, rows, ys, stats)
        if lesson is None:
            return
        X, y = lesson
        try:
            served.loaded.learn(X, y)
        except (CtmlError, ValueError, TypeError) as exc:
            _log.warning("%s v%s could not learn %d label(s): %s", served.model, served.version, len(X), exc)
            stats.skipped += len(X)
            return
        stats.learned += len(X)
        stats.since_snapshot += len(X)

    @staticmethod
    def _encode(served: LoadedModel, rows: list[np.ndarray], ys: list[Any], stats: LearnerStats) -> Lesson | None:
        if not rows:
            return None
        model = served.loaded
        X = np.ascontiguousarray(np.vstack(rows), dtype=np.float64)
        try:
            y = encode_labels(model.signature, np.asarray(ys, dtype=object if model.signature.classes else None))
        except SchemaError:  # a class this version never saw: learn the rows it can represent
            keep = [i for i, v in enumerate(ys) if _known(model, v)]
            stats.skipped += len(ys) - len(keep)
            if not keep:
                return None
            X = X[keep]
            y = encode_labels(model.signature, np.asarray([ys[i] for i in keep], dtype=object))
        return X, y

    def _replay(self, app: str, served: LoadedModel, stats: LearnerStats) -> None:
        while True:
            batch = self.meta.predictions.arrived(app, stats.cursor_ms, limit=5_000)
            if not batch:
                return
            rows: list[np.ndarray] = []
            ys: list[Any] = []
            for arrived in batch:
                try:
                    rows.append(served.codec.matrix([arrived.inputs])[0])
                    ys.append(arrived.label)
                except BadRequest:
                    stats.skipped += 1
            before = stats.learned
            self._fit(served, rows, ys, stats)
            stats.replayed += stats.learned - before
            stats.cursor_ms, stats.cursor_id = batch[-1].received_ms, batch[-1].prediction_id

    def _snapshot(self, app: str, served: LoadedModel, stats: LearnerStats) -> Snapshot:
        data = served.loaded.to_bytes()
        digest = self.artifacts.put_bytes(data)
        snapshot = self.meta.snapshots.add(app, served.model, served.version, digest=digest, labels=stats.learned,
                                           cursor_ms=stats.cursor_ms, cursor_id=stats.cursor_id)  # fmt: skip
        stats.snapshots += 1
        stats.since_snapshot = 0
        stats.last_snapshot_s = self.clock.monotonic()
        return snapshot


def _order(pid: str) -> tuple[str, int]:
    key = split_id(pid)
    return ("", 0) if key is None else key


def _known(model: Model, value: Any) -> bool:
    classes = model.signature.classes or ()
    return any((value == c and type(value) is type(c)) or str(value) == str(c) for c in classes)
