"""API tokens with roles, stored hashed in the metadata store, checked by an ASGI middleware.

Why the metadata store and not a config file: every server worker and host already reads it, so a token
created or revoked with ``ctml tokens`` reaches all of them within one poll, and no secret file has to be
copied around. Only the sha256 of a token is stored; the secret (``ctml_`` + 43 URL-safe characters) is
shown once, when it is made.

Roles are ordered: ``read`` < ``predict`` < ``operate`` < ``admin``; a role may do what the roles below it may.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ctml.clock import Clock
from ctml.errors import ConfigError
from ctml.meta import ApiToken, MetaStore

__all__ = ["ROLES", "TokenAuth", "TokenCache", "create_token", "hash_token"]

ROLES = ("read", "predict", "operate", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}

#: (method, path) -> the role a request needs, or None when it is open.
Rule = Callable[[str, str], str | None]


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(meta: MetaStore, role: str, name: str = "") -> tuple[ApiToken, str]:
    """A new token with ``role``: its stored record and its secret (shown once; only its hash is kept)."""
    if role not in _RANK:
        raise ConfigError(f"A token's role must be one of {list(ROLES)}. Got {role!r}.")
    secret = "ctml_" + secrets.token_urlsafe(32)
    return meta.tokens.create(name or f"{role} token", role, hash_token(secret)), secret


class TokenCache:
    """The active tokens' hashes and roles, read from the store now and again (``refresh``)."""

    def __init__(self, meta: MetaStore, clock: Clock, *, miss_refresh_s: float = 1.0) -> None:
        self.meta = meta
        self.clock = clock
        self.miss_refresh_s = miss_refresh_s
        self._roles: dict[str, str] = {}
        self._refreshed = float("-inf")
        self._lock = threading.Lock()

    def refresh(self) -> None:
        roles = {t.sha256: t.role for t in self.meta.tokens.active()}
        with self._lock:
            self._roles = roles
            self._refreshed = self.clock.monotonic()

    def role(self, secret: str) -> str | None:
        digest = hash_token(secret)
        role = self._roles.get(digest)
        if role is None and self.clock.monotonic() - self._refreshed >= self.miss_refresh_s:
            self.refresh()  # a token made a moment ago; at most once a second, so bad tokens cannot flood the store
            role = self._roles.get(digest)
        return role


class TokenAuth:
    """ASGI middleware: a request whose rule names a role needs ``Authorization: Bearer <token>`` of that role
    or above; 401 without a valid token, 403 with one whose role is too low."""

    def __init__(self, app: ASGIApp, *, tokens: TokenCache, rule: Rule) -> None:
        self.app = app
        self.tokens = tokens
        self.rule = rule

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = self.rule(scope["method"], scope["path"])
        if needed is None:
            await self.app(scope, receive, send)
            return
        secret = _bearer(scope)
        role = None if secret is None else self.tokens.role(secret)
        if role is None:
            why = "needs an API token" if secret is None else "was given an unknown or revoked API token"
            await _deny(
                send,
                401,
                f"This endpoint {why}: send 'Authorization: Bearer <token>' with role {needed!r} "
                "or above (make one with `ctml tokens create --role ROLE`).",
            )
            return
        if _RANK[role] < _RANK[needed]:
            await _deny(send, 403, f"This endpoint needs the role {needed!r} or above; the token has {role!r}.")
            return
        scope.setdefault("state", {})["role"] = role
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": {"status": status, "message": message, "field": "authorization"}}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
