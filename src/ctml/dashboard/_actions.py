"""Operator actions: approve (or decline) a pending promotion, promote a version, roll back, behind API tokens.

The tokens are ``ctml serve``'s (``ctml tokens create --role operate``): the same hashed records in the
metadata store, so a revoked token stops working here within a second. An action needs the role
``operate`` or above. Each action moves the registry through the same code as ``ctml models promote --now``
and ``ctml models rollback`` and stores a decision naming the operator; the alias move and the decision each
write their audit entry in their own transaction, so the audit log says who did what and why.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ctml.clock import Clock
from ctml.dashboard._queries import Queries
from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.meta import Decision
from ctml.registry import ModelRegistry
from ctml.rollout import RolloutPlan, Rollouts
from ctml.serve import hash_token
from ctml.types import JSONObject
from ctml.workspace import Workspace

__all__ = ["ROLE_NEEDED", "Denied", "Operations", "Operator", "OperatorTokens"]

ROLE_NEEDED = "operate"
_RANK = {"read": 0, "predict": 1, "operate": 2, "admin": 3}


class Denied(Exception):
    """The request may not do this: ``status`` 401 (no or unknown token) or 403 (a role too low)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Operator:
    """Who acts: the token's name and role. ``actor`` is what the registry and the audit log record."""

    token_id: str
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"{self.name} (token {self.token_id})"


class OperatorTokens:
    """Active tokens by hash, re-read from the store at most once a second when an unknown one is shown."""

    def __init__(self, workspace: Workspace, clock: Clock, *, miss_refresh_s: float = 1.0) -> None:
        self.workspace = workspace
        self.clock = clock
        self.miss_refresh_s = miss_refresh_s
        self._known: dict[str, Operator] = {}
        self._refreshed = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        known = {t.sha256: Operator(t.id, t.name, t.role) for t in self.workspace.meta.tokens.active()}
        with self._lock:
            self._known, self._refreshed = known, self.clock.monotonic()

    def who(self, secret: str | None) -> Operator | None:
        if not secret:
            return None
        digest = hash_token(secret)
        found = self._known.get(digest)
        if found is None and self.clock.monotonic() - self._refreshed >= self.miss_refresh_s:
            self._refresh()
            found = self._known.get(digest)
        elif found is not None and self.clock.monotonic() - self._refreshed >= 5 * self.miss_refresh_s:
            self._refresh()  # a revoked token must stop working soon, not only when an unknown one comes along
            found = self._known.get(digest)
        return found

    def require(self, secret: str | None) -> Operator:
        """The operator behind ``secret``, or :class:`Denied` (401 without a valid token, 403 below operate)."""
        operator = self.who(secret)
        if operator is None:
            why = "needs an API token" if not secret else "was given an unknown or revoked API token"
            raise Denied(
                401,
                f"This action {why}. Sign in with a token of role {ROLE_NEEDED!r} or above "
                "(make one with `ctml tokens create --role operate`).",
            )
        if _RANK.get(operator.role, -1) < _RANK[ROLE_NEEDED]:
            raise Denied(
                403,
                f"This action needs the role {ROLE_NEEDED!r} or above; the token "
                f"{operator.name!r} has {operator.role!r}.",
            )
        return operator


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ConfigError("Say why: the reason is recorded with the decision and in the audit log.")
    if len(text) > 2000:
        raise ConfigError(f"A reason must be at most 2000 characters. Got {len(text)}.")
    return text


class Operations:
    """The actions, each one registry move plus one stored decision, both attributed to the operator."""

    def __init__(self, workspace: Workspace, queries: Queries) -> None:
        self.workspace = workspace
        self.queries = queries

    def _registry(self, operator: Operator) -> ModelRegistry:
        return ModelRegistry(self.workspace.meta, self.workspace.artifacts, actor=operator.actor)

    def _gate(self, decision_id: str) -> Decision:
        gate = self.queries.decision(decision_id)
        if gate is None or gate.kind != "gate":
            raise NotFoundError(f"No gate decision with id {decision_id!r}.")
        if gate.outcome != "needs_approval" or gate.model is None or gate.version is None:
            raise ConflictError(f"Decision {decision_id} is a {gate.outcome!r} verdict, not one awaiting approval.")
        if decision_id in self.queries.approvals(gate.app):
            raise ConflictError(f"Decision {decision_id} was already approved or declined; see its page.")
        return gate

    def approve(self, operator: Operator, decision_id: str, reason: str, *, guarded: bool = False) -> Decision:
        """Approve a ``needs_approval`` verdict: its version becomes the champion, at once or by a roll-out."""
        why = _reason(reason)
        gate = self._gate(decision_id)
        assert gate.model is not None
        assert gate.version is not None
        meta = self.workspace.meta
        app = gate.app or gate.model
        registry = self._registry(operator)
        evidence: JSONObject = {
            "gate_decision": gate.id,
            "reason": why,
            "role": operator.role,
            "gate_summary": gate.summary,
            "mode": "rollout" if guarded else "now",
        }
        if guarded:
            rollouts = Rollouts(meta, registry)
            current = rollouts.current(app)
            plan = current[1] if current is not None else RolloutPlan()
            state = rollouts.start(app, gate.model, gate.version, plan, reason=f"approved by {operator.name}: {why}")
            evidence["rollout"] = state.stage_name(plan)
        else:
            target = registry.promote(gate.model, gate.version, reason=f"approved by {operator.name}: {why}")
            evidence["alias_revision"] = target.revision
        summary = f"{operator.name} approved {gate.model} v{gate.version}: {why}"
        return meta.decisions.record(
            "approval",
            "approved",
            summary,
            evidence,
            app=app,
            model=gate.model,
            version=gate.version,
            run_id=gate.run_id,
            actor=operator.actor,
        )

    def decline(self, operator: Operator, decision_id: str, reason: str) -> Decision:
        """Decline a ``needs_approval`` verdict: nothing moves, and the refusal is recorded."""
        why = _reason(reason)
        gate = self._gate(decision_id)
        summary = f"{operator.name} declined {gate.model} v{gate.version}: {why}"
        evidence: JSONObject = {
            "gate_decision": gate.id,
            "reason": why,
            "role": operator.role,
            "gate_summary": gate.summary,
        }
        return self.workspace.meta.decisions.record(
            "approval",
            "declined",
            summary,
            evidence,
            app=gate.app,
            model=gate.model,
            version=gate.version,
            run_id=gate.run_id,
            actor=operator.actor,
        )

    def promote(self, operator: Operator, model: str, version: int, reason: str, *, app: str | None = None) -> Decision:
        """Make ``model`` v``version`` the champion at once (``ctml models promote --now``)."""
        why = _reason(reason)
        target = self._registry(operator).promote(model, version, reason=f"promoted by {operator.name}: {why}")
        return self.workspace.meta.decisions.record(
            "promotion",
            "promote",
            f"{model} v{version} promoted at once by {operator.name}: {why}",
            {"reason": why, "role": operator.role, "alias_revision": target.revision},
            app=app or model,
            model=model,
            version=version,
            actor=operator.actor,
        )

    def rollback(self, operator: Operator, model: str, reason: str, *, app: str | None = None) -> Decision:
        """Abort the app's active roll-out, or else move the champion back (``ctml models rollback``)."""
        why = _reason(reason)
        meta = self.workspace.meta
        registry = self._registry(operator)
        rollouts = Rollouts(meta, registry)
        found = rollouts.current(app or model)
        if found is not None and found[0].status == "active":
            rollouts.abort(app or model, reason=f"{operator.name}: {why}")
            return meta.decisions.list(app=app or model, kind="rollout", limit=1)[0]
        target = registry.rollback(model, reason=f"rolled back by {operator.name}: {why}")
        return meta.decisions.record(
            "rollback",
            "rollback",
            f"{model} rolled back to v{target.version} by {operator.name}: {why}",
            {"reason": why, "role": operator.role, "alias_revision": target.revision},
            app=app or model,
            model=model,
            version=target.version,
            actor=operator.actor,
        )
