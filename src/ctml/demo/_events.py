"""What the demo narrates: one :class:`DemoEvent` per thing the loop did, read from the controller's actions.

The events are derived from :class:`ctml.controller.Action` values (and their stored evidence), never
invented: a "drift" event exists because the retraining policy's drift rule fired on the monitor's report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ctml.controller import Action
from ctml.types import JSONObject

__all__ = ["KINDS", "DemoEvent", "events_of", "fired_rules"]

KINDS = ("server", "window", "ingest", "first", "drift", "retrain", "train", "gate", "rollout", "promoted",
         "rollback", "report")  # fmt: skip
"""Every event kind, in the order a reader meets them."""


@dataclass(frozen=True)
class DemoEvent:
    """``kind`` (one of :data:`KINDS`) at stream row ``row`` and simulated time ``at``, told in ``message``."""

    kind: str
    row: int
    at: datetime
    message: str
    evidence: JSONObject = field(default_factory=dict)

    def to_json(self) -> JSONObject:
        return {"kind": self.kind, "row": self.row, "at": self.at.isoformat(), "message": self.message,
                "evidence": self.evidence}  # fmt: skip


_VERDICT_WORDS = ("Promoted: ", "Rejected: ", "Needs approval: ")


def fired_rules(rule: Any) -> list[JSONObject]:
    """The leaf rules that fired in a trigger decision's ``rule`` evidence (an AnyOf's children included)."""
    if not isinstance(rule, dict) or rule.get("fired") is not True:
        return []
    evidence = rule.get("evidence")
    children = evidence.get("rules") if isinstance(evidence, dict) else None
    if isinstance(children, list):
        found = [leaf for child in children for leaf in fired_rules(child)]
        if found:
            return found
    return [rule]


def events_of(actions: list[Action], row: int, at: datetime, *, first: bool) -> list[DemoEvent]:
    """The events of one reconcile cycle's ``actions`` (``first``: the cycle that trains the first model)."""
    out: list[DemoEvent] = []
    for action in actions:
        if action.kind == "ingest" and action.outcome == "new":
            out.append(DemoEvent("ingest", row, at, f"ingested {action.summary}"))
        elif action.kind == "trigger" and action.outcome == "retrain":
            out.extend(_retrain(action, row, at, first=first))
        elif action.kind == "train" and action.outcome == "registered":
            out.append(DemoEvent("train", row, at, action.summary, {"version": action.version}))
        elif action.kind == "gate":
            why = action.summary.partition(": ")[2] if action.summary.startswith(_VERDICT_WORDS) else action.summary
            out.append(DemoEvent("gate", row, at, f"gate: {action.outcome} v{action.version} because {why}",
                                 {"outcome": action.outcome, "version": action.version,
                                  "decision": action.decision_id}))  # fmt: skip
        elif action.kind == "rollout" and action.outcome in ("start", "advance", "complete", "rollback"):
            out.extend(_rollout(action, row, at))
    return out


def _retrain(action: Action, row: int, at: datetime, *, first: bool) -> list[DemoEvent]:
    if first:
        return [DemoEvent("first", row, at, f"retrain fired: {action.summary}", {"decision": action.decision_id})]
    out = []
    rules = fired_rules(action.evidence.get("rule"))
    for rule in rules:
        evidence = rule.get("evidence")
        if rule.get("rule") == "drift" and isinstance(evidence, dict):
            drifted = evidence.get("drifted_features")
            features = [str(f) for f in drifted] if isinstance(drifted, list) else []
            score = evidence.get("drift_score")
            share = f"{score:.0%} of features" if isinstance(score, float) else "share unknown"
            out.append(DemoEvent("drift", row, at, f"drift detected in features {', '.join(features)} (score {share})",
                                 {"features": list(features), "score": score}))  # fmt: skip
    names = "+".join(str(r.get("rule")) for r in rules) or "policy"
    out.append(DemoEvent("retrain", row, at, f"retrain fired ({names}): {action.summary}",
                         {"rules": names, "decision": action.decision_id}))  # fmt: skip
    return out


def _rollout(action: Action, row: int, at: datetime) -> list[DemoEvent]:
    evidence = action.evidence
    guards = evidence.get("guards")
    checks = [g for g in guards if isinstance(g, dict)] if isinstance(guards, list) else []
    if action.outcome == "rollback":
        return [DemoEvent("rollback", row, at, action.summary, {"guards": list(checks)})]
    passed = [str(g.get("name")) for g in checks if g.get("status") == "passed"]
    waiting = [str(g.get("name")) for g in checks if g.get("status") == "waiting"]
    note = f"; guards ok: {', '.join(passed)}" if passed else ""
    note += f"; still waiting for data: {', '.join(waiting)}" if waiting else ""
    return [DemoEvent("rollout", row, at, action.summary + note, {"outcome": action.outcome, "guards": list(checks)})]
