"""Apps and dataset versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ctml.clock import Clock
from ctml.errors import ConfigError, NotFoundError
from ctml.ids import new_id
from ctml.meta._records import App, DatasetVersion, dump, load, must_ms, to_ms
from ctml.meta._schema import apps, dataset_versions, lineage_edges
from ctml.meta._tx import Repo
from ctml.types import JSONObject

__all__ = ["AppRepo", "DatasetRepo"]


class AppRepo(Repo):
    def put(self, name: str, spec: JSONObject | None = None) -> App:
        """Create the app or replace its spec."""
        if not name or len(name) > 255:
            raise ConfigError(f"An app name must be a non-empty string of at most 255 characters. Got {name!r}.")
        now_ms = self._now_ms()
        stmt = self._upsert(apps)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"spec": stmt.excluded.spec, "updated_ms": stmt.excluded.updated_ms}
        )
        text = None if spec is None else dump(spec)
        with self._write() as conn:
            conn.execute(stmt, [{"name": name, "spec": text, "created_ms": now_ms, "updated_ms": now_ms}])
        return self.get(name)

    def get(self, name: str) -> App:
        with self._read() as conn:
            row = conn.execute(select(apps).where(apps.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"No app named {name!r}.")
        return _app(row)

    def list(self) -> list[App]:
        with self._read() as conn:
            return [_app(r) for r in conn.execute(select(apps).order_by(apps.c.name))]


def _app(row: Any) -> App:
    return App(row.name, load(row.spec), must_ms(row.created_ms), must_ms(row.updated_ms))


class DatasetRepo(Repo):
    """Immutable dataset versions. Adding content already stored returns the existing version."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        super().__init__(engine, clock)
        self._profiles: dict[str, tuple[str, Any]] = {}

    def add_version(
        self,
        dataset: str,
        digest: str,
        rows: int,
        *,
        artifact_digest: str | None = None,
        schema: JSONObject | None = None,
        profile: JSONObject | None = None,
        source: JSONObject | None = None,
        time_min: str | None = None,
        time_max: str | None = None,
        parents: list[str] | None = None,
    ) -> tuple[DatasetVersion, bool]:
        """(the version, whether it is new). ``parents`` are ids of the versions it was derived from."""
        if not dataset or len(dataset) > 255:
            raise ConfigError(f"A dataset name must be a non-empty string of at most 255 characters. Got {dataset!r}.")
        existing = self._find(dataset, digest)
        if existing is not None:
            return existing, False
        now = self._now()
        now_ms = to_ms(now)
        try:
            with self._write() as conn:
                again = conn.execute(
                    select(dataset_versions).where(
                        dataset_versions.c.dataset == dataset, dataset_versions.c.digest == digest
                    )
                ).first()
                if again is not None:
                    return _dataset(again), False
                latest = conn.execute(
                    select(func.max(dataset_versions.c.version)).where(dataset_versions.c.dataset == dataset)
                ).scalar()
                version_id = new_id(now)
                row = {
                    "id": version_id,
                    "dataset": dataset,
                    "version": int(latest or 0) + 1,
                    "digest": digest,
                    "artifact_digest": artifact_digest,
                    "rows": rows,
                    "schema": None if schema is None else dump(schema),
                    "profile": None if profile is None else dump(profile),
                    "source": None if source is None else dump(source),
                    "time_min": time_min,
                    "time_max": time_max,
                    "created_ms": now_ms,
                }
                conn.execute(insert(dataset_versions), [row])
                if parents:
                    conn.execute(
                        insert(lineage_edges),
                        [
                            {
                                "src_kind": "dataset_version",
                                "src_id": parent,
                                "dst_kind": "dataset_version",
                                "dst_id": version_id,
                                "relation": "derived",
                                "created_ms": now_ms,
                            }
                            for parent in dict.fromkeys(parents)
                        ],
                    )
        except IntegrityError:
            found = self._find(dataset, digest)
            if found is None:
                raise
            return found, False
        return self.get(version_id), True

    def get(self, version_id: str) -> DatasetVersion:
        with self._read() as conn:
            row = conn.execute(select(dataset_versions).where(dataset_versions.c.id == version_id)).first()
        if row is None:
            raise NotFoundError(f"No dataset version with id {version_id!r}.")
        return _dataset(row)

    def list(self, dataset: str | None = None, *, limit: int = 100) -> list[DatasetVersion]:
        query = select(dataset_versions)
        if dataset is not None:
            query = query.where(dataset_versions.c.dataset == dataset)
        query = query.order_by(dataset_versions.c.created_ms.desc(), dataset_versions.c.version.desc()).limit(limit)
        with self._read() as conn:
            return [_dataset(r, self._profiles) for r in conn.execute(query)]

    def set_profile(self, version_id: str, profile: JSONObject) -> None:
        """Attach a profile computed after ingest; the data itself never changes."""
        with self._write() as conn:
            done = conn.execute(
                update(dataset_versions).where(dataset_versions.c.id == version_id).values(profile=dump(profile))
            )
            if done.rowcount == 0:
                raise NotFoundError(f"No dataset version with id {version_id!r}.")

    def _find(self, dataset: str, digest: str) -> DatasetVersion | None:
        with self._read() as conn:
            row = conn.execute(
                select(dataset_versions).where(
                    dataset_versions.c.dataset == dataset, dataset_versions.c.digest == digest
                )
            ).first()
        return None if row is None else _dataset(row)


def _dataset(row: Any, parsed: dict[str, tuple[str, Any]] | None = None) -> DatasetVersion:
    """``parsed``: profiles already decoded, by version id with their text (a version's profile is written once
    at ingest and at most replaced; decoding it again on every listing was most of a controller cycle)."""
    profile: Any
    if parsed is None:
        profile = load(row.profile)
    else:
        known = parsed.get(row.id)
        if known is not None and known[0] == row.profile:
            profile = known[1]
        else:
            profile = load(row.profile)
            parsed[row.id] = (row.profile, profile)
    return DatasetVersion(
        id=row.id,
        dataset=row.dataset,
        version=row.version,
        digest=row.digest,
        artifact_digest=row.artifact_digest,
        rows=row.rows,
        schema=load(row.schema),
        profile=profile,
        source=load(row.source),
        time_min=row.time_min,
        time_max=row.time_max,
        created_at=must_ms(row.created_ms),
    )
