"""Roll-outs, persisted: the state machine of :mod:`ctml.rollout._machine` applied to the store and the server.

:class:`Rollouts` keeps one roll-out per app in the metadata store (compare-and-set, so two controllers cannot
both advance it), writes the route table the model servers read (``meta.routes``), moves the registry alias,
and records every transition as a ``rollout`` decision with its evidence and an event:

- start: the champion alias stays on the previous version; the candidate is routed as ``shadow`` or
  ``canary`` by version (``v7``), beside ``champion``.
- entering full: the alias moves to the candidate (compare-and-set), and the route table names only the alias.
- a breached guard: the route table goes back to the alias alone; if the alias had moved (the full stage, or
  blue/green), it is rolled back to its previous target.

The stage's measurements come from the prediction log (:meth:`Rollouts.measure`): the candidate's rows since
the stage began — requests, model failures, p99 latency — and its live metric on labelled rows against the
champion's on the same window (a shadow's rows take the labels of the champion predictions they shadow).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ctml.clock import Clock
from ctml.errors import ConfigError, NotFoundError
from ctml.meta import ANY_REVISION, MetaStore
from ctml.registry import ModelRegistry
from ctml.rollout._machine import (
    ACTIVE,
    ROLLED_BACK,
    RolloutDecision,
    RolloutState,
    StageStats,
    routes_for,
    start,
    step,
)
from ctml.rollout._plan import RolloutPlan
from ctml.types import JSONObject

__all__ = ["Rollouts"]

_LIMIT = 200_000
_PENDING = "pending"
"""The key of a stored state whose effects (alias move, routes, decision) are not all applied yet."""


class Rollouts:
    """Start, measure, step and abort the roll-outs of apps served from ``registry`` (alias ``alias``)."""

    def __init__(
        self, meta: MetaStore, registry: ModelRegistry, *, alias: str = "champion", clock: Clock | None = None
    ) -> None:
        self.meta = meta
        self.registry = registry
        self.alias = alias
        self.clock = clock or meta.clock

    # -- reading -----------------------------------------------------------------------------------------------

    def current(self, app: str) -> tuple[RolloutState, RolloutPlan, int] | None:
        """The app's latest roll-out, its plan and its revision (None if it never had one)."""
        record = self.meta.rollouts.get(app)
        if record is None:
            return None
        return RolloutState.from_json(dict(record.state)), _plan(record.plan), record.revision

    # -- transitions -------------------------------------------------------------------------------------------

    def start(self, app: str, model: str, candidate: int, plan: RolloutPlan, *, reason: str = "") -> RolloutState:
        """Roll ``model`` v``candidate`` out for ``app``; refused while another roll-out of the app is active."""
        self.registry.resolve(model, candidate)  # a version that does not exist fails here, with its name
        found = self.current(app)
        if found is not None and found[0].status == ACTIVE:
            raise ConfigError(
                f"App {app!r} is already rolling out v{found[0].candidate} ({found[0].stage_name(found[1])}); "
                "wait for it to finish, or abort it with `ctml rollout abort`."
            )
        try:
            previous: int | None = self.meta.models.get_alias(model, self.alias).version
        except NotFoundError:
            previous = None
        now = self.clock.now()
        state = start(plan, app, model, candidate=candidate, previous=previous, now=now)
        expected = 0 if found is None else found[2]
        why = reason or "a new champion candidate"
        summary = f"start rolling out {model} v{candidate} (replacing {_v(previous)}): {why}"
        evidence: JSONObject = {"plan": plan.to_json(), "stages": list(plan.stages), "previous": previous}
        self._transition(app, plan, state, None, expected, "start", summary, evidence)
        return state

    def step(self, app: str, *, stats: StageStats | None = None, now: datetime | None = None) -> RolloutDecision:
        """Check the guards and the bake of the app's active roll-out, and move it on (or back)."""
        self.recover(app)
        found = self.current(app)
        if found is None:
            raise NotFoundError(f"App {app!r} has no roll-out. Start one with `ctml models promote`.")
        state, plan, revision = found
        now = now or self.clock.now()
        stats = stats if stats is not None else self.measure(app, state, now)
        new, decision = step(plan, state, stats, now)
        if new == state:
            return decision
        self._transition(app, plan, new, state, revision, decision.outcome, decision.reason, decision.evidence)
        return decision

    def abort(self, app: str, *, reason: str) -> RolloutDecision:
        """Roll the app's active roll-out back now, by an operator's decision."""
        found = self.current(app)
        if found is None or found[0].status != ACTIVE:
            raise ConfigError(f"App {app!r} has no active roll-out to abort.")
        state, plan, revision = found
        now = self.clock.now()
        entry: JSONObject = {"at": now.isoformat(), "event": "rollback", "stage": state.stage_name(plan), "why": reason}
        new = replace(state, stage_started=now, status=ROLLED_BACK, history=(*state.history, entry))
        summary = f"rolled back v{state.candidate} at {state.stage_name(plan)} by hand: {reason}"
        decision = RolloutDecision("rollback", summary, {"stage": state.stage_name(plan), "manual": True})
        self._transition(app, plan, new, state, revision, "rollback", summary, decision.evidence)
        return decision

    def recover(self, app: str) -> bool:
        """Finish a transition a killed process stored but did not apply (the alias move, the route table and
        its decision); True if there was one. Idempotent: the controller calls it at every cycle."""
        record = self.meta.rollouts.get(app)
        if record is None or not isinstance(record.state.get(_PENDING), dict):
            return False
        pending = record.state[_PENDING]
        assert isinstance(pending, dict)
        state = RolloutState.from_json(dict(record.state))
        plan = _plan(record.plan)
        before_json = pending.get("before")
        before = RolloutState.from_json(dict(before_json)) if isinstance(before_json, dict) else None
        self._apply(app, plan, state, before)
        evidence = pending.get("evidence")
        self._record(app, state.model, state.candidate, str(pending.get("outcome")), str(pending.get("summary")),
                     {**(evidence if isinstance(evidence, dict) else {}), "recovered": True})  # fmt: skip
        self.meta.rollouts.put(app, state.to_json(), plan.to_json(), expected_revision=record.revision)
        return True

    # -- measuring ---------------------------------------------------------------------------------------------

    def measure(self, app: str, state: RolloutState, now: datetime) -> StageStats:
        """What the candidate did since its stage began, from the prediction log and the labels, beside the
        champion on the same span (:func:`ctml.monitor.stage_stats`)."""
        from ctml.monitor import stage_stats

        return stage_stats(self.meta, app, state.candidate, state.previous, state.stage_started, now)

    # -- effects -----------------------------------------------------------------------------------------------

    def _transition(
        self,
        app: str,
        plan: RolloutPlan,
        state: RolloutState,
        before: RolloutState | None,
        revision: int,
        outcome: str,
        summary: str,
        evidence: JSONObject,
    ) -> None:
        """Store ``state`` with its effects marked pending, apply them, record the decision, clear the mark.

        The state and the effects (alias, routes) live in different tables, written by different stores; a
        process killed between them leaves the mark, and :meth:`recover` applies what is missing."""
        pending: JSONObject = {"before": None if before is None else before.to_json(), "outcome": outcome,
                               "summary": summary, "evidence": evidence}  # fmt: skip
        stored = self.meta.rollouts.put(app, {**state.to_json(), _PENDING: pending}, plan.to_json(),
                                        expected_revision=revision)  # fmt: skip
        self._apply(app, plan, state, before)
        self._record(app, state.model, state.candidate, outcome, summary, evidence)
        self.meta.rollouts.put(app, state.to_json(), plan.to_json(), expected_revision=stored.revision)

    def _apply(self, app: str, plan: RolloutPlan, state: RolloutState, before: RolloutState | None) -> None:
        """The alias move and the route table for ``state``, coming from ``before``."""
        moved_before = before is not None and before.stage_name(plan) == "full"
        if state.status == ROLLED_BACK:
            if moved_before and state.previous is not None and self._alias_on(state.model, state.candidate):
                self.registry.rollback(state.model, self.alias, reason=f"roll-out of v{state.candidate} rolled back")
        elif state.stage_name(plan) == "full" and not moved_before:
            try:
                target = self.meta.models.get_alias(state.model, self.alias)
            except NotFoundError:
                target = None
            if target is None or target.version != state.candidate:
                self.registry.promote(
                    state.model,
                    state.candidate,
                    self.alias,
                    expected_revision=ANY_REVISION if target is None else target.revision,
                    reason=f"roll-out of v{state.candidate} reached full traffic",
                )
        self._routes(app, routes_for(plan, state, alias=self.alias))

    def _alias_on(self, model: str, version: int) -> bool:
        try:
            return self.meta.models.get_alias(model, self.alias).version == version
        except NotFoundError:
            return False

    def _routes(self, app: str, table: JSONObject) -> None:
        current = self.meta.routes.get(app)
        if current is not None and "sticky" in current.routes:
            table = {**table, "sticky": current.routes["sticky"]}
        if current is not None and current.routes.get("challengers"):  # the app's tournament stands through it
            table = {**table, "challengers": current.routes["challengers"]}
        self.meta.routes.set(app, table)

    def _record(self, app: str, model: str, version: int, outcome: str, summary: str, evidence: JSONObject) -> None:
        decision = self.meta.decisions.record(
            "rollout", outcome, summary, evidence, app=app, model=model, version=version, actor=self.registry.actor
        )
        payload: JSONObject = {"app": app, "model": model, "version": version, "decision": decision.id}
        self.meta.events.append(f"rollout-{decision.id}", f"rollout.{outcome}", payload, app=app)


def _plan(data: JSONObject) -> RolloutPlan:
    try:
        return RolloutPlan(**{**data, "canary": tuple(data.get("canary") or ())})  # type: ignore[arg-type]
    except TypeError as exc:
        raise ConfigError(f"A stored roll-out plan is malformed ({exc}): {data!r}") from None


def _v(version: int | None) -> str:
    return "no champion" if version is None else f"v{version}"
