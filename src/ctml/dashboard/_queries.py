"""What the pages read: SQLAlchemy Core over the metadata schema, paged and aggregated in the database.

The repositories in :mod:`ctml.meta` answer one entity at a time; a dashboard page needs a page of runs with
their step counts, the latest value of a dozen series, or a series thinned to a few hundred points. Those are
one statement each here, so a page costs the same with 10 runs or 10,000 (``ctml bench ui`` measures it).
Every read runs in a read-only transaction: on SQLite it never takes the write lock the controller needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select

from ctml.dashboard._rows import Page, RunRow, Series, VersionRow, version_row
from ctml.meta import Decision, MetaStore
from ctml.meta._engine import readonly
from ctml.meta._records import from_ms, load, must_ms
from ctml.meta._schema import (
    alias_history,
    aliases,
    audit_log,
    controller_state,
    decisions,
    feedback,
    latest_metrics,
    metrics,
    model_versions,
    models,
    predictions,
    rollouts,
    runs,
    steps,
)

__all__ = ["Page", "Queries", "RunRow", "Series", "VersionRow"]

MONITOR_KIND = "monitor"  # ctml.monitor writes its observations as metrics of one run per app of this kind


class Queries:
    """The dashboard's reads over one :class:`~ctml.meta.MetaStore`."""

    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta
        self.engine = readonly(meta.engine)

    def _all(self, query: Select[Any]) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def _one(self, query: Select[Any]) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    # -- apps ----------------------------------------------------------------------------------------------------

    def apps(self) -> list[str]:
        """Every app something is known of: a model, a roll-out or a controller state."""
        found: set[str] = {a.name for a in self.meta.apps.list()}
        for column in (models.c.app, rollouts.c.app, controller_state.c.app):
            found.update(r[0] for r in self._all(select(column).distinct()) if r[0])
        return sorted(found)

    def app_models(self, app: str) -> list[str]:
        return [r[0] for r in self._all(select(models.c.name).where(models.c.app == app).order_by(models.c.name))]

    def version_app(self, model: str) -> str | None:
        found = self._one(select(models.c.app).where(models.c.name == model))
        return None if found is None else str(found)

    def monitor_run(self, app: str) -> str | None:
        query = (
            select(runs.c.id).where(runs.c.app == app, runs.c.kind == MONITOR_KIND).order_by(runs.c.created_ms).limit(1)
        )
        found = self._one(query)
        return None if found is None else str(found)

    def latest(self, run_id: str) -> dict[str, tuple[float, datetime]]:
        """The latest value of every metric of ``run_id`` and when it was observed."""
        query = select(latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.at_ms).where(
            latest_metrics.c.run_id == run_id
        )
        return {r.key: (float(r.value), must_ms(r.at_ms)) for r in self._all(query)}

    def recent(self, run_id: str, key: str, n: int) -> list[tuple[int, float]]:
        query = (
            select(metrics.c.at_ms, metrics.c.value)
            .where(metrics.c.run_id == run_id, metrics.c.key == key)
            .order_by(metrics.c.step.desc())
            .limit(n)
        )
        return [(int(r.at_ms), float(r.value)) for r in reversed(self._all(query))]

    def series(self, run_id: str, keys: Sequence[str], *, prefix: str | None = None, limit: int = 400) -> list[Series]:
        """``keys`` (and every key starting with ``prefix``) of ``run_id``, thinned in the database: consecutive
        steps are averaged into buckets so no series has more than ``limit`` points."""
        key_filter: ColumnElement[bool] = metrics.c.key.in_(list(keys))
        if prefix is not None:
            key_filter = key_filter | metrics.c.key.like(prefix.replace("%", r"\%").replace("_", r"\_") + "%", "\\")
        where = and_(metrics.c.run_id == run_id, key_filter)
        steps_n = int(self._one(select(func.max(metrics.c.step)).where(where)) or 0) + 1
        width = max(1, -(-steps_n // limit))
        bucket = (metrics.c.step // width).label("bucket") if width > 1 else metrics.c.step.label("bucket")
        query = (
            select(metrics.c.key, bucket, func.max(metrics.c.at_ms).label("at"), func.avg(metrics.c.value).label("v"))
            .where(where)
            .group_by(metrics.c.key, bucket)
            .order_by(metrics.c.key, bucket)
        )
        out: dict[str, list[tuple[int, float]]] = {}
        for r in self._all(query):
            out.setdefault(r.key, []).append((int(r.at), float(r.v)))
        return [Series(k, v) for k, v in sorted(out.items())]

    def traffic(self, app: str, span_ms: int = 3_600_000) -> tuple[int, int, float, datetime] | None:
        """Requests, rows and mean latency (ms) in the ``span_ms`` before the app's newest logged prediction."""
        newest = self._one(select(func.max(predictions.c.at_ms)).where(predictions.c.app == app))
        if newest is None:
            return None
        query = select(func.count(), func.sum(predictions.c.rows), func.avg(predictions.c.latency_ms)).where(
            predictions.c.app == app, predictions.c.at_ms > int(newest) - span_ms
        )
        with self.engine.connect() as conn:
            n, rows, latency = conn.execute(query).one()
        return int(n), int(rows or 0), float(latency or 0.0), must_ms(int(newest))

    def label_delay_ms(self, app: str, sample: int = 500) -> float | None:
        """The median time from a prediction to its label, over the newest ``sample`` labels."""
        query = (
            select((feedback.c.at_ms - predictions.c.at_ms).label("delay"))
            .select_from(feedback.join(predictions, predictions.c.id == feedback.c.batch_id))
            .where(feedback.c.app == app)
            .order_by(feedback.c.at_ms.desc())
            .limit(sample)
        )
        delays = sorted(float(r.delay) for r in self._all(query))
        return None if not delays else delays[len(delays) // 2]

    def rollout(self, app: str) -> tuple[dict[str, Any], dict[str, Any], datetime] | None:
        row = self._all(select(rollouts).where(rollouts.c.app == app))
        if not row:
            return None
        return load(row[0].state), load(row[0].plan), must_ms(row[0].updated_ms)

    def controller(self, app: str) -> tuple[dict[str, Any], datetime] | None:
        row = self._all(select(controller_state).where(controller_state.c.app == app))
        return None if not row else (load(row[0].state), must_ms(row[0].updated_ms))

    # -- runs ----------------------------------------------------------------------------------------------------

    def runs_page(
        self,
        *,
        app: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        page: int = 1,
        size: int = 50,
    ) -> tuple[list[RunRow], Page]:
        conditions = [
            c
            for c in (
                None if app is None else runs.c.app == app,
                None if kind is None else runs.c.kind == kind,
                None if status is None else runs.c.status == status,
            )
            if c is not None
        ]
        total = int(self._one(select(func.count()).select_from(runs).where(*conditions)) or 0)
        where = Page(page, size, total)
        query = (
            select(runs)
            .where(*conditions)
            .order_by(runs.c.created_ms.desc(), runs.c.id.desc())
            .limit(size)
            .offset(where.offset)
        )
        found = self._all(query)
        counts = self._step_counts([r.id for r in found])
        rows = [
            RunRow(
                r.id,
                r.app,
                r.name,
                r.kind,
                r.status,
                r.actor,
                must_ms(r.created_ms),
                from_ms(r.ended_ms),
                *counts.get(r.id, (0, 0, 0)),
                r.error,
            )
            for r in found
        ]
        return rows, where

    def _step_counts(self, run_ids: list[str]) -> dict[str, tuple[int, int, int]]:
        if not run_ids:
            return {}
        query = (
            select(
                steps.c.run_id,
                func.count().label("n"),
                func.sum(case((steps.c.cached.is_(True), 1), else_=0)).label("cached"),
                func.sum(case((steps.c.status == "failed", 1), else_=0)).label("failed"),
            )
            .where(steps.c.run_id.in_(run_ids))
            .group_by(steps.c.run_id)
        )
        return {r.run_id: (int(r.n), int(r.cached or 0), int(r.failed or 0)) for r in self._all(query)}

    def run_kinds(self) -> list[str]:
        return [r[0] for r in self._all(select(runs.c.kind).distinct().order_by(runs.c.kind))]

    # -- models --------------------------------------------------------------------------------------------------

    def models(self) -> list[tuple[str, str | None, int]]:
        count = (
            select(func.count())
            .select_from(model_versions)
            .where(model_versions.c.model == models.c.name)
            .scalar_subquery()
        )
        query = select(models.c.name, models.c.app, count.label("n")).order_by(models.c.name)
        return [(r.name, r.app, int(r.n)) for r in self._all(query)]

    def versions_page(self, model: str, *, page: int = 1, size: int = 50) -> tuple[list[VersionRow], Page]:
        total = int(
            self._one(select(func.count()).select_from(model_versions).where(model_versions.c.model == model)) or 0
        )
        where = Page(page, size, total)
        query = (
            select(model_versions)
            .where(model_versions.c.model == model)
            .order_by(model_versions.c.version.desc())
            .limit(size)
            .offset(where.offset)
        )
        return [version_row(r) for r in self._all(query)], where

    def version(self, model: str, version: int) -> VersionRow | None:
        query = select(model_versions).where(model_versions.c.model == model, model_versions.c.version == version)
        found = self._all(query)
        return None if not found else version_row(found[0])

    def metric_trend(self, model: str, key: str, limit: int = 200) -> list[tuple[int, float]]:
        """``(version, value)`` of a registry metric over the newest ``limit`` versions (run metrics as fallback)."""
        query = (
            select(model_versions.c.version, latest_metrics.c.value)
            .select_from(
                model_versions.join(
                    latest_metrics,
                    and_(latest_metrics.c.run_id == model_versions.c.run_id, latest_metrics.c.key == key),
                )
            )
            .where(model_versions.c.model == model)
            .order_by(model_versions.c.version.desc())
            .limit(limit)
        )
        return sorted((int(r.version), float(r.value)) for r in self._all(query))

    def run_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """The latest metrics of each run in ``run_ids``, in one statement."""
        if not run_ids:
            return {}
        query = select(latest_metrics.c.run_id, latest_metrics.c.key, latest_metrics.c.value).where(
            latest_metrics.c.run_id.in_(list(run_ids))
        )
        out: dict[str, dict[str, float]] = {}
        for r in self._all(query):
            out.setdefault(r.run_id, {})[r.key] = float(r.value)
        return out

    def aliases(self, model: str) -> dict[str, int]:
        query = select(aliases.c.alias, aliases.c.version).where(
            aliases.c.model == model, aliases.c.version.is_not(None)
        )
        return {r.alias: int(r.version) for r in self._all(query)}

    def alias_moves(self, model: str, *, version: int | None = None, limit: int = 50) -> list[Any]:
        query = select(alias_history).where(alias_history.c.model == model)
        if version is not None:
            query = query.where((alias_history.c.to_version == version) | (alias_history.c.from_version == version))
        return self._all(query.order_by(alias_history.c.seq.desc()).limit(limit))

    # -- decisions and audit -------------------------------------------------------------------------------------

    def decisions_page(
        self,
        *,
        app: str | None = None,
        kind: str | None = None,
        outcome: str | None = None,
        page: int = 1,
        size: int = 50,
    ) -> tuple[list[Decision], Page]:
        conditions = [
            c
            for c in (
                None if app is None else decisions.c.app == app,
                None if kind is None else decisions.c.kind == kind,
                None if outcome is None else decisions.c.outcome == outcome,
            )
            if c is not None
        ]
        total = int(self._one(select(func.count()).select_from(decisions).where(*conditions)) or 0)
        where = Page(page, size, total)
        query = (
            select(decisions)
            .where(*conditions)
            .order_by(decisions.c.created_ms.desc(), decisions.c.id.desc())
            .limit(size)
            .offset(where.offset)
        )
        return [Decision.from_row(r) for r in self._all(query)], where

    def decision(self, decision_id: str) -> Decision | None:
        found = self._all(select(decisions).where(decisions.c.id == decision_id))
        return None if not found else Decision.from_row(found[0])

    def last_decision(self, app: str, kinds: Sequence[str] | None = None) -> Decision | None:
        query = select(decisions).where(decisions.c.app == app)
        if kinds is not None:
            query = query.where(decisions.c.kind.in_(list(kinds)))
        found = self._all(query.order_by(decisions.c.created_ms.desc(), decisions.c.id.desc()).limit(1))
        return None if not found else Decision.from_row(found[0])

    def markers(self, app: str, limit: int = 300) -> list[Decision]:
        """Decisions worth a mark on a time axis: retrains, gate verdicts, approvals, tournament promotions and
        roll-out ends."""
        wanted = (
            ((decisions.c.kind == "trigger") & (decisions.c.outcome == "retrain"))
            | ((decisions.c.kind == "tournament") & (decisions.c.outcome == "promote"))
            | decisions.c.kind.in_(["gate", "approval", "promotion", "rollback"])
            | ((decisions.c.kind == "rollout") & decisions.c.outcome.in_(["complete", "rollback", "start"]))
        )
        query = (
            select(decisions).where(decisions.c.app == app, wanted).order_by(decisions.c.created_ms.desc()).limit(limit)
        )
        return [Decision.from_row(r) for r in reversed(self._all(query))]

    def approvals(self, app: str | None = None, limit: int = 1000) -> set[str]:
        """Ids of gate decisions already approved (an ``approval`` decision names its gate decision)."""
        query = select(decisions.c.evidence).where(decisions.c.kind == "approval")
        if app is not None:
            query = query.where(decisions.c.app == app)
        found: set[str] = set()
        for r in self._all(query.order_by(decisions.c.created_ms.desc()).limit(limit)):
            evidence = load(r.evidence)
            if isinstance(evidence, dict) and isinstance(evidence.get("gate_decision"), str):
                found.add(evidence["gate_decision"])
        return found

    def pending(self, app: str | None = None, limit: int = 50) -> list[Decision]:
        """Gate verdicts that asked a human (``needs_approval``) and have no approval yet, newest first."""
        rows, _ = self.decisions_page(app=app, kind="gate", outcome="needs_approval", size=limit)
        done = self.approvals(app)
        return [d for d in rows if d.id not in done]

    def audit_page(self, *, entity: str | None = None, page: int = 1, size: int = 50) -> tuple[list[Any], Page]:
        conditions = [] if entity is None else [audit_log.c.entity_id == entity]
        total = int(self._one(select(func.count()).select_from(audit_log).where(*conditions)) or 0)
        where = Page(page, size, total)
        query = select(audit_log).where(*conditions).order_by(audit_log.c.seq.desc()).limit(size).offset(where.offset)
        return self._all(query), where
