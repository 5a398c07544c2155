"""The controller (above the loop): a reconcile loop per app that drives ingestion, triggers, training, the
gate and roll-outs, holding a lease so only one controller acts for an app. ``docs/controller.md`` is the guide.
"""

from ctml.controller._controller import REQUEST_KIND, Action, Controller
from ctml.controller._state import ControllerState

__all__ = ["REQUEST_KIND", "Action", "Controller", "ControllerState"]
