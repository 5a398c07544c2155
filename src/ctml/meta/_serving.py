"""What the model server reads: route tables per app and hashed API tokens.

A route table is a JSON document (its meaning is :mod:`ctml.serve`'s) moved by compare-and-set on its
``revision``, so the roll-out state machine and an operator cannot overwrite each other's change unseen.
Tokens are stored as the sha256 of the secret only; the secret is shown once, when it is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.ids import new_id
from ctml.meta._models import ANY_REVISION
from ctml.meta._records import dump, from_ms, load, must_ms
from ctml.meta._schema import api_tokens, rollouts, serve_routes
from ctml.meta._tx import Repo, short_text
from ctml.types import JSONObject

__all__ = ["ApiToken", "RolloutRecord", "RolloutRepo", "RouteRecord", "RouteRepo", "TokenRepo"]


@dataclass(frozen=True)
class RouteRecord:
    app: str
    routes: JSONObject
    revision: int
    updated_at: datetime


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    role: str
    sha256: str
    created_at: datetime
    revoked_at: datetime | None


class RouteRepo(Repo):
    def get(self, app: str) -> RouteRecord | None:
        with self._read() as conn:
            row = conn.execute(select(serve_routes).where(serve_routes.c.app == app)).first()
        return None if row is None else _route(row)

    def set(self, app: str, routes: JSONObject, *, expected_revision: int = ANY_REVISION) -> RouteRecord:
        """Replace the route table of ``app``; with ``expected_revision`` only if nobody changed it since."""
        short_text("app name", app, 255)
        now_ms = self._now_ms()
        text = dump(routes)
        with self._write() as conn:
            held = conn.execute(
                select(serve_routes.c.revision).where(serve_routes.c.app == app).with_for_update()
            ).scalar()
            current = 0 if held is None else int(held)
            if expected_revision not in (ANY_REVISION, current):
                raise ConflictError(
                    f"The route table of {app!r} is at revision {current}, not {expected_revision}: "
                    "someone changed it since you read it. Read it again and retry."
                )
            if held is None:
                conn.execute(insert(serve_routes), [{"app": app, "routes": text, "revision": 1, "updated_ms": now_ms}])
            else:
                conn.execute(
                    update(serve_routes)
                    .where(serve_routes.c.app == app, serve_routes.c.revision == current)
                    .values(routes=text, revision=current + 1, updated_ms=now_ms)
                )
        return RouteRecord(app, routes, current + 1, must_ms(now_ms))


@dataclass(frozen=True)
class RolloutRecord:
    app: str
    state: JSONObject
    plan: JSONObject
    revision: int
    updated_at: datetime


class RolloutRepo(Repo):
    """The current roll-out per app (its meaning is :mod:`ctml.rollout`'s), moved by compare-and-set."""

    def get(self, app: str) -> RolloutRecord | None:
        with self._read() as conn:
            row = conn.execute(select(rollouts).where(rollouts.c.app == app)).first()
        if row is None:
            return None
        state, plan = load(row.state), load(row.plan)
        assert isinstance(state, dict)
        assert isinstance(plan, dict)
        return RolloutRecord(row.app, state, plan, row.revision, must_ms(row.updated_ms))

    def put(
        self, app: str, state: JSONObject, plan: JSONObject, *, expected_revision: int = ANY_REVISION
    ) -> RolloutRecord:
        """Store the roll-out of ``app``; with ``expected_revision`` only if nobody changed it since."""
        short_text("app name", app, 255)
        now_ms = self._now_ms()
        with self._write() as conn:
            held = conn.execute(select(rollouts.c.revision).where(rollouts.c.app == app).with_for_update()).scalar()
            current = 0 if held is None else int(held)
            if expected_revision not in (ANY_REVISION, current):
                raise ConflictError(
                    f"The roll-out of {app!r} is at revision {current}, not {expected_revision}: another process "
                    "moved it since it was read. Read it again and retry."
                )
            values = {"state": dump(state), "plan": dump(plan), "revision": current + 1, "updated_ms": now_ms}
            if held is None:
                conn.execute(insert(rollouts), [{"app": app, **values}])
            else:
                conn.execute(update(rollouts).where(rollouts.c.app == app).values(**values))
        return RolloutRecord(app, state, plan, current + 1, must_ms(now_ms))


class TokenRepo(Repo):
    def create(self, name: str, role: str, sha256: str) -> ApiToken:
        short_text("token name", name, 255)
        if len(sha256) != 64:
            raise ConfigError("A token is stored as the sha256 hex digest of its secret (64 characters).")
        now = self._now()
        token = ApiToken(new_id(now), name, role, sha256, now, None)
        with self._write() as conn:
            conn.execute(
                insert(api_tokens),
                [{"id": token.id, "name": name, "role": role, "sha256": sha256, "created_ms": self._now_ms()}],
            )
        return token

    def active(self) -> list[ApiToken]:
        """Tokens not revoked."""
        with self._read() as conn:
            rows = conn.execute(select(api_tokens).where(api_tokens.c.revoked_ms.is_(None)))
            return [_token(r) for r in rows]

    def list(self) -> list[ApiToken]:
        with self._read() as conn:
            return [_token(r) for r in conn.execute(select(api_tokens).order_by(api_tokens.c.id))]

    def revoke(self, token_id: str) -> ApiToken:
        with self._write() as conn:
            done = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_ms.is_(None))
                .values(revoked_ms=self._now_ms())
            )
            if not done.rowcount:
                raise NotFoundError(f"No active API token with id {token_id!r}. List them with `ctml tokens list`.")
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
        return _token(row)


def _route(row: Any) -> RouteRecord:
    return RouteRecord(row.app, load(row.routes), row.revision, must_ms(row.updated_ms))


def _token(row: Any) -> ApiToken:
    return ApiToken(row.id, row.name, row.role, row.sha256, must_ms(row.created_ms), from_ms(row.revoked_ms))
