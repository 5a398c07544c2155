"""Snapshots of online model versions: the learned state a server wrote, and how far it had learned.

A server that updates an online model version from labels (:mod:`ctml.serve`'s learners) writes the state to
the artifact store now and then and records it here as snapshot ``seq`` of ``model`` v``version`` for one app,
with ``labels`` learned so far and the arrival stamp of the last label learned (``cursor_ms``). The version
stays the same version: its registry artifact is where learning started, its snapshots are where it got to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from ctml.meta._records import must_ms
from ctml.meta._schema import learner_snapshots
from ctml.meta._tx import Repo

__all__ = ["Snapshot", "SnapshotRepo"]


@dataclass(frozen=True)
class Snapshot:
    app: str
    model: str
    version: int
    seq: int
    digest: str
    labels: int
    cursor_ms: int
    cursor_id: str
    at: datetime


class SnapshotRepo(Repo):
    def add(
        self, app: str, model: str, version: int, *, digest: str, labels: int, cursor_ms: int, cursor_id: str = ""
    ) -> Snapshot:
        """Record the next snapshot of ``model`` v``version`` for ``app`` (its bytes already stored)."""
        now_ms = self._now_ms()
        key = (learner_snapshots.c.app == app, learner_snapshots.c.model == model,
               learner_snapshots.c.version == version)  # fmt: skip
        with self._write() as conn:
            seq = int(
                conn.execute(select(func.coalesce(func.max(learner_snapshots.c.seq), 0)).where(*key)).scalar_one()
            )
            row = {"app": app, "model": model, "version": version, "seq": seq + 1, "digest": digest, "labels": labels,
                   "cursor_ms": cursor_ms, "cursor_id": cursor_id[:48], "at_ms": now_ms}  # fmt: skip
            conn.execute(insert(learner_snapshots), [row])
        return Snapshot(app, model, version, seq + 1, digest, labels, cursor_ms, cursor_id[:48], must_ms(now_ms))

    def latest(self, app: str, model: str, version: int) -> Snapshot | None:
        """The newest snapshot of ``model`` v``version`` for ``app``, or None."""
        found = self.list(app, model, version, limit=1)
        return found[0] if found else None

    def list(
        self, app: str, model: str | None = None, version: int | None = None, *, limit: int = 100
    ) -> list[Snapshot]:
        """Snapshots of ``app`` (of one model / version), newest first."""
        stmt = select(learner_snapshots).where(learner_snapshots.c.app == app)
        if model is not None:
            stmt = stmt.where(learner_snapshots.c.model == model)
        if version is not None:
            stmt = stmt.where(learner_snapshots.c.version == version)
        stmt = stmt.order_by(learner_snapshots.c.at_ms.desc(), learner_snapshots.c.seq.desc()).limit(limit)
        with self._read() as conn:
            return [
                Snapshot(
                    r.app, r.model, r.version, r.seq, r.digest, r.labels, r.cursor_ms, r.cursor_id, must_ms(r.at_ms)
                )
                for r in conn.execute(stmt)
            ]
