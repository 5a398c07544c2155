"""Runs, their steps and artifacts: the tracking half of the metadata store."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.ids import new_id
from ctml.meta._filter import compile_filter, parse_filter
from ctml.meta._records import (
    ArtifactRef,
    MetricPoint,
    Run,
    Step,
    dump,
    from_ms,
    load,
    must_ms,
    to_ms,
)
from ctml.meta._schema import artifacts, latest_metrics, metrics, params, runs, steps, tags
from ctml.meta._tx import Repo
from ctml.types import JSON, JSONObject, RunStatus

__all__ = ["ArtifactRepo", "Metric", "RunRepo", "StepRepo"]

_ENDED = {RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED}
_ORDER_COLUMNS = {"created": runs.c.created_ms, "ended": runs.c.ended_ms, "name": runs.c.name}
# A backquoted metric key may hold spaces, as in filters: metrics.`val loss` desc
_ORDER_BY = re.compile(r"\s*(?P<field>metrics\.`[^`]+`|\S+)(?:\s+(?P<direction>asc|desc))?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Metric:
    """One metric value to log. ``at_ms`` defaults to the store clock's now."""

    key: str
    value: float
    step: int = 0
    at_ms: int | None = None


def _key(kind: str, key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > 255:
        raise ConfigError(f"A {kind} key must be a non-empty string of at most 255 characters. Got {key!r}.")
    return key


def _param_text(value: JSON) -> str:
    """Params are stored as text: strings as they are, anything else as its canonical JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return repr(value)  # the same text json.dumps writes for a number, without its machinery
    return dump(value)


def _status(value: str) -> RunStatus:
    try:
        return RunStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise ConfigError(f"A run status must be one of {allowed}. Got {value!r} instead.") from None


class RunRepo(Repo):
    """Create, log to, end and search runs."""

    def create(
        self,
        name: str,
        *,
        app: str | None = None,
        kind: str = "run",
        actor: str = "unknown",
        parent_id: str | None = None,
        params: Mapping[str, JSON] | None = None,
        tags: Mapping[str, str] | None = None,
        code_fingerprint: str | None = None,
        git_commit: str | None = None,
        environment: JSONObject | None = None,
        seed: int | None = None,
    ) -> str:
        """Start a run and return its id; params and tags are written in the same transaction."""
        now = self._now()
        run_id = new_id(now)
        row = {
            "id": run_id,
            "app": app,
            "name": _key("run name", name),
            "kind": kind,
            "status": RunStatus.RUNNING.value,
            "actor": actor,
            "parent_id": parent_id,
            "created_ms": to_ms(now),
            "ended_ms": None,
            "code_fingerprint": code_fingerprint,
            "git_commit": git_commit,
            "environment": None if environment is None else dump(environment),
            "seed": seed,
            "error": None,
        }
        with self._write() as conn:
            self._run(conn, self._run_insert, [row])
            self._log(conn, run_id, params or {}, (), tags or {})
        return run_id

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, JSON] | None = None,
        metrics: Iterable[Metric] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Log a batch in one transaction. Params are write-once: a different value for a key is a conflict."""
        with self._write() as conn:
            self._require_open(conn, run_id)
            self._log(conn, run_id, params or {}, metrics, tags or {})

    def finish(self, run_id: str, status: str = RunStatus.FINISHED, error: str | None = None) -> None:
        final = _status(status)
        if final not in _ENDED:
            raise ConfigError(f"A run ends as finished, failed or killed. Got {status!r}.")
        change: dict[str, Any] = {"run_id": run_id, "running": RunStatus.RUNNING.value, "final": final.value}
        change |= {"ended": self._now_ms(), "error_text": error}
        with self._write() as conn:
            ended = self._run(conn, self._run_finish, [change])
            if ended.rowcount != 1:
                # One statement on the hot path; the lookup only runs to say why nothing was updated.
                self._require_open(conn, run_id)

    def get(self, run_id: str) -> Run:
        with self._read() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                raise NotFoundError(f"No run with id {run_id!r}. List runs with `ctml runs list`.")
            return self._hydrate(conn, [row])[0]

    def search(
        self,
        filter: str = "",
        *,
        app: str | None = None,
        order_by: str = "created desc",
        limit: int = 100,
        offset: int = 0,
    ) -> list[Run]:
        """Runs matching ``filter`` (see :mod:`ctml.meta._filter`), newest first by default."""
        if limit < 0 or offset < 0:
            raise ConfigError(f"limit and offset must be >= 0. Got limit={limit}, offset={offset}.")
        query = select(runs).where(*compile_filter(parse_filter(filter)))
        if app is not None:
            query = query.where(runs.c.app == app)
        query = self._order(query, order_by).limit(limit).offset(offset)
        with self._read() as conn:
            return self._hydrate(conn, list(conn.execute(query)))

    def count(self, filter: str = "", *, app: str | None = None) -> int:
        query = select(func.count()).select_from(runs).where(*compile_filter(parse_filter(filter)))
        if app is not None:
            query = query.where(runs.c.app == app)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        query = (
            select(metrics.c.key, metrics.c.value, metrics.c.step, metrics.c.at_ms)
            .where(metrics.c.run_id == run_id, metrics.c.key == key)
            .order_by(metrics.c.step, metrics.c.at_ms, metrics.c.seq)
        )
        with self._read() as conn:
            return [MetricPoint(r.key, r.value, r.step, must_ms(r.at_ms)) for r in conn.execute(query)]

    # -- internals ---------------------------------------------------------------------------------------

    def _order(self, query: Any, order_by: str) -> Any:
        match = _ORDER_BY.fullmatch(order_by)
        if match is None:
            raise ConfigError(f"order_by must be 'FIELD [asc|desc]'. Got {order_by!r}.")
        field, direction = match["field"], (match["direction"] or "asc").lower()
        if field.startswith("metrics."):
            key = field.removeprefix("metrics.").strip("`")
            value = (
                select(latest_metrics.c.value)
                .where(latest_metrics.c.run_id == runs.c.id, latest_metrics.c.key == key)
                .scalar_subquery()
            )
            column: Any = value
        elif field in _ORDER_COLUMNS:
            column = _ORDER_COLUMNS[field]
        else:
            raise ConfigError(
                f"Cannot order runs by {field!r}. Use created, ended, name or metrics.KEY, followed by asc or desc."
            )
        ordered = column.desc().nulls_last() if direction == "desc" else column.asc().nulls_last()
        return query.order_by(ordered, runs.c.id.desc() if direction == "desc" else runs.c.id.asc())

    def _require_open(self, conn: Any, run_id: str) -> None:
        found = self._run(conn, self._run_status, [{"run_id": run_id}]).fetchone()
        status = None if found is None else found[0]
        if status is None:
            raise NotFoundError(f"No run with id {run_id!r}.")
        if status != RunStatus.RUNNING.value:
            raise ConflictError(f"Run {run_id} has already ended ({status}); start a new run to log more.")

    def _log(
        self,
        conn: Any,
        run_id: str,
        new_params: Mapping[str, JSON],
        new_metrics: Iterable[Metric],
        new_tags: Mapping[str, str],
    ) -> None:
        if new_params:
            self._log_params(conn, run_id, new_params)
        rows: list[dict[str, Any]] = []
        now = self._now_ms()
        for metric in new_metrics:
            value = float(metric.value)
            if not math.isfinite(value):
                raise ConfigError(f"Metric {metric.key!r} must be a finite number. Got {metric.value!r}.")
            at = now if metric.at_ms is None else metric.at_ms
            rows.append(
                {"run_id": run_id, "key": _key("metric", metric.key), "value": value, "step": metric.step, "at_ms": at}
            )
        if rows:
            self._run(conn, self._metric_insert, rows)
            latest: dict[str, dict[str, Any]] = {}
            for row in rows:
                held = latest.get(row["key"])
                if held is None or (row["step"], row["at_ms"]) >= (held["step"], held["at_ms"]):
                    latest[row["key"]] = row
            self._run(conn, self._latest_upsert, list(latest.values()))
        if new_tags:
            self._run(
                conn,
                self._tag_upsert,
                [
                    {"entity_kind": "run", "entity_id": run_id, "key": _key("tag", k), "value": str(v)}
                    for k, v in new_tags.items()
                ],
            )

    # Upserts are built once per repository: building ``excluded`` and its columns cost more than running them.

    @cached_property
    def _run_insert(self) -> Any:
        return insert(runs)

    @cached_property
    def _run_status(self) -> Any:
        return select(runs.c.status).where(runs.c.id == bindparam("run_id"))

    @cached_property
    def _run_finish(self) -> Any:
        return (
            update(runs)
            .where(runs.c.id == bindparam("run_id"), runs.c.status == bindparam("running"))
            .values(status=bindparam("final"), ended_ms=bindparam("ended"), error=bindparam("error_text"))
        )

    @cached_property
    def _metric_insert(self) -> Any:
        return insert(metrics)

    @cached_property
    def _param_insert(self) -> Any:
        return self._upsert(params).on_conflict_do_nothing(index_elements=["run_id", "key"])

    @cached_property
    def _latest_upsert(self) -> Any:
        stmt = self._upsert(latest_metrics)
        excluded = stmt.excluded
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={"value": excluded.value, "step": excluded.step, "at_ms": excluded.at_ms},
            where=(excluded.step > latest_metrics.c.step)
            | and_(excluded.step == latest_metrics.c.step, excluded.at_ms >= latest_metrics.c.at_ms),
        )

    @cached_property
    def _tag_upsert(self) -> Any:
        stmt = self._upsert(tags)
        return stmt.on_conflict_do_update(
            index_elements=["entity_kind", "entity_id", "key"], set_={"value": stmt.excluded.value}
        )

    def _log_params(self, conn: Any, run_id: str, new_params: Mapping[str, JSON]) -> None:
        wanted = {_key("param", k): _param_text(v) for k, v in new_params.items()}
        inserted = self._run(
            conn, self._param_insert, [{"run_id": run_id, "key": k, "value": v} for k, v in wanted.items()]
        )
        if inserted.rowcount == len(wanted):
            return  # every key was new, so none can clash with a stored value
        stored = dict(conn.execute(select(params.c.key, params.c.value).where(params.c.run_id == run_id)).all())
        clashes = {k: (stored[k], v) for k, v in wanted.items() if stored.get(k) != v}
        if clashes:
            key, (old, new) = next(iter(clashes.items()))
            raise ConflictError(
                f"Param {key!r} of run {run_id} is already {old!r}; params are write-once and cannot become "
                f"{new!r}. Log it under another key, or start a new run."
            )

    def _children(self, conn: Any, table: str, run_ids: list[str]) -> list[tuple[str, str, Any]]:
        """(run id, key, value) rows of ``table`` for ``run_ids``: the params, latest metrics or tags of runs.

        On SQLite the query goes straight to the driver, as run logging does: a search returns thousands of
        these small rows, and building SQLAlchemy rows for them costs more than SQLite's lookup.
        """
        owner, key, value = _CHILDREN[table]
        if self._engine.dialect.name == "sqlite":
            marks = ", ".join("?" * len(run_ids))
            extra = "entity_kind = 'run' AND " if table == "tags" else ""
            sql = f'SELECT {owner.name}, "key", value FROM {table} WHERE {extra}{owner.name} IN ({marks})'
            cursor = conn.connection.driver_connection.cursor()
            return cursor.execute(sql, run_ids).fetchall()  # type: ignore[no-any-return]
        query = select(owner, key, value).where(owner.in_(run_ids))
        if table == "tags":
            query = query.where(tags.c.entity_kind == "run")
        return [tuple(row) for row in conn.execute(query).all()]

    def _hydrate(self, conn: Any, rows: Sequence[Row[Any]]) -> list[Run]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        by_param: dict[str, dict[str, str]] = {i: {} for i in ids}
        by_metric: dict[str, dict[str, float]] = {i: {} for i in ids}
        by_tag: dict[str, dict[str, str]] = {i: {} for i in ids}
        for chunk in _chunks(ids, 500):
            for run_id, key, value in self._children(conn, "params", chunk):
                by_param[run_id][key] = value
            for run_id, key, value in self._children(conn, "latest_metrics", chunk):
                by_metric[run_id][key] = value
            for run_id, key, value in self._children(conn, "tags", chunk):
                by_tag[run_id][key] = value
        return [
            Run(
                id=row.id,
                app=row.app,
                name=row.name,
                kind=row.kind,
                status=row.status,
                actor=row.actor,
                parent_id=row.parent_id,
                created_at=must_ms(row.created_ms),
                ended_at=from_ms(row.ended_ms),
                code_fingerprint=row.code_fingerprint,
                git_commit=row.git_commit,
                environment=load(row.environment),
                seed=row.seed,
                error=row.error,
                params=by_param[row.id],
                metrics=by_metric[row.id],
                tags=by_tag[row.id],
            )
            for row in rows
        ]


_CHILDREN = {
    "params": (params.c.run_id, params.c.key, params.c.value),
    "latest_metrics": (latest_metrics.c.run_id, latest_metrics.c.key, latest_metrics.c.value),
    "tags": (tags.c.entity_id, tags.c.key, tags.c.value),
}


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class StepRepo(Repo):
    """Steps of a run: each attempt of each step is one row."""

    def start(self, run_id: str, name: str, *, attempt: int = 1, cache_key: str | None = None) -> str:
        now = self._now()
        step_id = new_id(now)
        row = {
            "id": step_id,
            "run_id": run_id,
            "name": _key("step name", name),
            "status": RunStatus.RUNNING.value,
            "attempt": attempt,
            "started_ms": to_ms(now),
            "ended_ms": None,
            "cache_key": cache_key,
            "cached": False,
            "error": None,
        }
        try:
            with self._write() as conn:
                conn.execute(insert(steps), [row])
        except IntegrityError:
            # Asked after the failed transaction ended: PostgreSQL refuses statements inside an aborted one.
            with self._read() as conn:
                exists = conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is not None
            if not exists:
                raise NotFoundError(f"No run with id {run_id!r} to add step {name!r} to.") from None
            raise ConflictError(
                f"Attempt {attempt} of step {name!r} in run {run_id} was already started by another process: "
                "two processes are running or resuming this run. Let the other one finish, or wait until it "
                "has stopped before resuming."
            ) from None
        return step_id

    def finish(
        self, step_id: str, status: str = RunStatus.FINISHED, *, cached: bool = False, error: str | None = None
    ) -> None:
        final = _status(status)
        with self._write() as conn:
            result = conn.execute(
                update(steps)
                .where(steps.c.id == step_id)
                .values(status=final.value, ended_ms=self._now_ms(), cached=cached, error=error)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"No step with id {step_id!r}.")

    def list(self, run_id: str) -> list[Step]:
        # Two attempts can start in one millisecond (retries on a simulated clock): attempt breaks the tie.
        query = select(steps).where(steps.c.run_id == run_id).order_by(steps.c.started_ms, steps.c.attempt, steps.c.id)
        with self._read() as conn:
            return [_step(r) for r in conn.execute(query)]

    def find(self, cache_key: str) -> Step | None:
        """The latest finished, not cached, step with ``cache_key``: where a pipeline cache hit's output was made."""
        query = (
            select(steps)
            .where(steps.c.cache_key == cache_key, steps.c.status == RunStatus.FINISHED.value, ~steps.c.cached)
            .order_by(steps.c.started_ms.desc(), steps.c.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).fetchone()
        return None if row is None else _step(row)


def _step(r: Any) -> Step:
    return Step(
        id=r.id,
        run_id=r.run_id,
        name=r.name,
        status=r.status,
        attempt=r.attempt,
        started_at=must_ms(r.started_ms),
        ended_at=from_ms(r.ended_ms),
        cache_key=r.cache_key,
        cached=bool(r.cached),
        error=r.error,
    )


class ArtifactRepo(Repo):
    """Named references from runs and steps to content in the artifact store."""

    def add(
        self,
        name: str,
        digest: str,
        size: int,
        *,
        run_id: str | None = None,
        step_id: str | None = None,
        media_type: str = "application/octet-stream",
    ) -> ArtifactRef:
        now = self._now()
        ref = ArtifactRef(new_id(now), run_id, step_id, _key("artifact name", name), digest, size, media_type, now)
        with self._write() as conn:
            try:
                conn.execute(
                    insert(artifacts),
                    [
                        {
                            "id": ref.id,
                            "run_id": run_id,
                            "step_id": step_id,
                            "name": ref.name,
                            "digest": digest,
                            "size": size,
                            "media_type": media_type,
                            "created_ms": to_ms(now),
                        }
                    ],
                )
            except IntegrityError:
                raise NotFoundError(f"No run with id {run_id!r} to attach artifact {name!r} to.") from None
        return ref

    def list(self, *, run_id: str | None = None, digest: str | None = None) -> list[ArtifactRef]:
        query = select(artifacts).order_by(artifacts.c.created_ms, artifacts.c.id)
        if run_id is not None:
            query = query.where(artifacts.c.run_id == run_id)
        if digest is not None:
            query = query.where(artifacts.c.digest == digest)
        with self._read() as conn:
            return [
                ArtifactRef(r.id, r.run_id, r.step_id, r.name, r.digest, r.size, r.media_type, must_ms(r.created_ms))
                for r in conn.execute(query)
            ]
