"""The controller's state per app, as stored (one JSON document, moved by compare-and-set).

``trigger`` is the retraining policy's :class:`~ctml.triggers.TriggerState`; ``job`` the training in progress
(its id, the decision that caused it and the dataset versions it reads), so a restarted controller finishes
it instead of starting another; ``champion`` what the live model was trained on; ``handled`` the manual
requests already acted on; ``applying`` a tournament change stored and not yet applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ctml.triggers import TriggerState
from ctml.types import JSON, JSONObject

__all__ = ["ControllerState"]

_HANDLED_KEEP = 500


@dataclass(frozen=True)
class ControllerState:
    trigger: TriggerState = field(default_factory=TriggerState)
    job: JSONObject | None = None
    champion: JSONObject | None = None
    first_tried: list[str] | None = None
    """The dataset versions a first model failed the gate on: retried only when the data changes."""
    handled: tuple[str, ...] = ()
    last_trigger: str | None = None
    cycles: int = 0
    trained_rows: int = 0
    """The rows of history the last training job saw, promoted or not: the volume rule counts rows since."""
    applying: JSONObject | None = None
    """A tournament change (``controller._tournament.Change``) stored with its decision and not yet applied to
    the registry and the route table: a restarted controller applies it first."""

    def with_handled(self, ids: list[str]) -> ControllerState:
        return replace(self, handled=(*self.handled, *ids)[-_HANDLED_KEEP:])

    def to_json(self) -> JSONObject:
        first: JSON = None if self.first_tried is None else list(self.first_tried)
        return {
            "trigger": self.trigger.to_json(),
            "job": self.job,
            "champion": self.champion,
            "first_tried": first,
            "handled": list(self.handled),
            "last_trigger": self.last_trigger,
            "cycles": self.cycles,
            "trained_rows": self.trained_rows,
            "applying": self.applying,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ControllerState:
        first = data.get("first_tried")
        return cls(
            trigger=TriggerState.from_json(data.get("trigger") or {}),
            job=data.get("job"),
            champion=data.get("champion"),
            first_tried=None if first is None else [str(x) for x in first],
            handled=tuple(str(x) for x in data.get("handled") or ()),
            last_trigger=data.get("last_trigger"),
            cycles=int(data.get("cycles", 0)),
            trained_rows=int(data.get("trained_rows", 0)),
            applying=data.get("applying"),
        )
