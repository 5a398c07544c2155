"""Models, their versions and aliases, with the full history of every alias move.

An alias (``champion``, ``challenger``, ``canary``, ...) is moved by compare-and-set on its ``revision``:
two writers that both read revision 7 cannot both move it to revision 8. Each move writes its history row and
an audit entry in the same transaction, so the history is complete and a rollback can name "the previous
champion".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.ids import new_id
from ctml.meta._journal import write_audit
from ctml.meta._records import (
    AliasMove,
    AliasTarget,
    Model,
    ModelVersion,
    Node,
    dump,
    load,
    must_ms,
    to_ms,
)
from ctml.meta._schema import alias_history, aliases, lineage_edges, model_versions, models
from ctml.meta._tx import Repo
from ctml.types import JSONObject

__all__ = ["ANY_REVISION", "ModelRepo"]

ANY_REVISION = -1
"""Pass as ``expected_revision`` to move an alias whatever its current revision (still atomic)."""

_CAS_RETRIES = 50


def _name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255 or "@" in value:
        raise ConfigError(f"A {kind} must be a non-empty string of at most 255 characters without '@'. Got {value!r}.")
    return value


class ModelRepo(Repo):
    """Register model versions and move aliases."""

    def create_version(
        self,
        model: str,
        *,
        app: str | None = None,
        run_id: str | None = None,
        artifact_digest: str | None = None,
        flavor: str | None = None,
        metrics: Mapping[str, float] | None = None,
        meta: JSONObject | None = None,
        actor: str = "unknown",
        sources: Sequence[Node] = (),
    ) -> ModelVersion:
        """Add the next version of ``model`` (created on first use) with lineage edges from ``sources``."""
        _name("model name", model)
        now = self._now()
        now_ms = to_ms(now)
        with self._write() as conn:
            held = conn.execute(select(models.c.next_version).where(models.c.name == model).with_for_update()).scalar()
            if held is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(models),
                            [{"name": model, "app": app, "description": None, "created_ms": now_ms, "next_version": 1}],
                        )
                except IntegrityError:
                    pass  # a concurrent writer created it; take its row lock below
                held = conn.execute(
                    select(models.c.next_version).where(models.c.name == model).with_for_update()
                ).scalar_one()
            version = int(held)
            conn.execute(update(models).where(models.c.name == model).values(next_version=version + 1))
            record = ModelVersion(
                id=new_id(now),
                model=model,
                version=version,
                run_id=run_id,
                artifact_digest=artifact_digest,
                flavor=flavor,
                metrics=dict(metrics or {}),
                meta=dict(meta or {}),
                actor=actor,
                created_at=now,
            )
            conn.execute(
                insert(model_versions),
                [
                    {
                        "id": record.id,
                        "model": model,
                        "version": version,
                        "run_id": run_id,
                        "artifact_digest": artifact_digest,
                        "flavor": flavor,
                        "metrics": dump(record.metrics),
                        "meta": dump(record.meta),
                        "actor": actor,
                        "created_ms": now_ms,
                    }
                ],
            )
            target = Node("model_version", f"{model}/{version}")
            edges = [
                {
                    "src_kind": src.kind,
                    "src_id": src.id,
                    "dst_kind": target.kind,
                    "dst_id": target.id,
                    "relation": "produced" if src.kind == "run" else "input",
                    "created_ms": now_ms,
                }
                for src in dict.fromkeys(sources)
            ]
            if run_id is not None and Node("run", run_id) not in sources:
                edges.append(
                    {
                        "src_kind": "run",
                        "src_id": run_id,
                        "dst_kind": target.kind,
                        "dst_id": target.id,
                        "relation": "produced",
                        "created_ms": now_ms,
                    }
                )
            if edges:
                conn.execute(insert(lineage_edges), edges)
            write_audit(conn, now_ms, actor, "model.register", "model_version", target.id, "", {"run_id": run_id})
        return record

    def get_version(self, model: str, version: int) -> ModelVersion:
        with self._read() as conn:
            row = conn.execute(
                select(model_versions).where(model_versions.c.model == model, model_versions.c.version == version)
            ).first()
        if row is None:
            raise NotFoundError(f"Model {model!r} has no version {version}. See `ctml models show {model}`.")
        return _version(row)

    def versions(self, model: str, *, limit: int = 100, offset: int = 0) -> list[ModelVersion]:
        query = (
            select(model_versions)
            .where(model_versions.c.model == model)
            .order_by(model_versions.c.version.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._read() as conn:
            return [_version(row) for row in conn.execute(query)]

    def set_alias(
        self,
        model: str,
        alias: str,
        version: int | None,
        *,
        expected_revision: int = ANY_REVISION,
        actor: str = "unknown",
        reason: str = "",
    ) -> AliasTarget:
        """Point ``alias`` at ``version`` (None removes it) if its revision is still ``expected_revision``.

        ``expected_revision=0`` means the alias must not have been set before. A lost compare-and-set raises
        :class:`~ctml.errors.ConflictError` and changes nothing.
        """
        _name("alias", alias)
        for _ in range(_CAS_RETRIES):
            try:
                return self._move(model, alias, version, expected_revision, actor, reason)
            except IntegrityError:
                # Two first-time writers raced on the insert; the loser re-reads and tries again.
                if expected_revision != ANY_REVISION:
                    raise ConflictError(
                        f"Alias {model}@{alias} was created by another writer meanwhile; re-read it and retry."
                    ) from None
        raise ConflictError(f"Could not move alias {model}@{alias}: too many concurrent writers.")

    def _move(self, model: str, alias: str, version: int | None, expected: int, actor: str, reason: str) -> AliasTarget:
        now = self._now()
        now_ms = to_ms(now)
        with self._write() as conn:
            if version is not None:
                exists = conn.execute(
                    select(model_versions.c.id).where(
                        model_versions.c.model == model, model_versions.c.version == version
                    )
                ).first()
                if exists is None:
                    raise NotFoundError(f"Model {model!r} has no version {version}; cannot point {alias!r} at it.")
            current = conn.execute(
                select(aliases.c.version, aliases.c.revision)
                .where(aliases.c.model == model, aliases.c.alias == alias)
                .with_for_update()
            ).first()
            revision = 0 if current is None else int(current.revision)
            previous = None if current is None else current.version
            if expected not in (ANY_REVISION, revision):
                raise ConflictError(
                    f"Alias {model}@{alias} is at revision {revision} (version {previous}), not {expected}: "
                    "another writer moved it first. Re-read it and decide again."
                )
            if current is None:
                if version is None:
                    raise NotFoundError(f"Alias {model}@{alias} is not set; nothing to remove.")
                conn.execute(
                    insert(aliases),
                    [{"model": model, "alias": alias, "version": version, "revision": 1, "updated_ms": now_ms}],
                )
            else:
                moved = conn.execute(
                    update(aliases)
                    .where(aliases.c.model == model, aliases.c.alias == alias, aliases.c.revision == revision)
                    .values(version=version, revision=revision + 1, updated_ms=now_ms)
                )
                if moved.rowcount != 1:
                    raise ConflictError(f"Alias {model}@{alias} moved under us; re-read it and decide again.")
            conn.execute(
                insert(alias_history),
                [
                    {
                        "model": model,
                        "alias": alias,
                        "revision": revision + 1,
                        "from_version": previous,
                        "to_version": version,
                        "actor": actor,
                        "reason": reason,
                        "at_ms": now_ms,
                    }
                ],
            )
            detail = {"from_version": previous, "to_version": version, "revision": revision + 1}
            write_audit(conn, now_ms, actor, "alias.move", "alias", f"{model}@{alias}", reason, detail)
        return AliasTarget(model, alias, version, revision + 1, now)

    def get_alias(self, model: str, alias: str) -> AliasTarget:
        with self._read() as conn:
            row = conn.execute(select(aliases).where(aliases.c.model == model, aliases.c.alias == alias)).first()
        if row is None or row.version is None:
            raise NotFoundError(f"Alias {model}@{alias} is not set. Set it with `ctml models alias {model} {alias} N`.")
        return AliasTarget(model, alias, row.version, row.revision, must_ms(row.updated_ms))

    def aliases(self, model: str) -> list[AliasTarget]:
        query = (
            select(aliases).where(aliases.c.model == model, aliases.c.version.is_not(None)).order_by(aliases.c.alias)
        )
        with self._read() as conn:
            return [
                AliasTarget(model, r.alias, r.version, r.revision, must_ms(r.updated_ms)) for r in conn.execute(query)
            ]

    def alias_history(self, model: str, alias: str | None = None, *, limit: int = 1000) -> list[AliasMove]:
        """Moves of one alias (or all aliases of ``model``), newest first."""
        query = select(alias_history).where(alias_history.c.model == model)
        if alias is not None:
            query = query.where(alias_history.c.alias == alias)
        # By seq, not at_ms: a mover reads the clock before it waits for the row lock, so a later move can
        # carry an earlier time. seq is drawn under the lock, in the order the moves happened.
        query = query.order_by(alias_history.c.seq.desc()).limit(limit)
        with self._read() as conn:
            return [
                AliasMove(
                    r.model, r.alias, r.revision, r.from_version, r.to_version, r.actor, r.reason, must_ms(r.at_ms)
                )
                for r in conn.execute(query)
            ]

    def previous_version(self, model: str, alias: str) -> int | None:
        """The version ``alias`` pointed at before its current one: "the previous champion"."""
        current = self.get_alias(model, alias).version
        for move in self.alias_history(model, alias):
            if move.from_version is not None and move.from_version != current:
                return int(move.from_version)
        return None

    def list(self, *, app: str | None = None) -> list[tuple[Model, int]]:
        """Every model with its number of versions."""
        count = (
            select(func.count())
            .select_from(model_versions)
            .where(model_versions.c.model == models.c.name)
            .scalar_subquery()
        )
        query = select(models, count.label("n")).order_by(models.c.name)
        if app is not None:
            query = query.where(models.c.app == app)
        with self._read() as conn:
            return [(Model(r.name, r.app, r.description, must_ms(r.created_ms)), int(r.n)) for r in conn.execute(query)]


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        id=row.id,
        model=row.model,
        version=row.version,
        run_id=row.run_id,
        artifact_digest=row.artifact_digest,
        flavor=row.flavor,
        metrics=load(row.metrics) or {},
        meta=load(row.meta) or {},
        actor=row.actor,
        created_at=must_ms(row.created_ms),
    )
