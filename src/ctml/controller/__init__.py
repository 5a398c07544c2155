"""The controller (above the loop): a reconcile loop per app that drives ingestion, triggers, training, the
gate and roll-outs, holding a lease so only one controller acts for an app, woken by "new_data" and
"retrain" events on a bus. ``docs/controller.md`` is the guide.
"""

from ctml.controller._controller import HANDLED_KIND, REQUEST_KIND, Action, Controller
from ctml.controller._loop import NEW_DATA, RETRAIN, Loop, default_group
from ctml.controller._state import ControllerState

__all__ = [
    "HANDLED_KIND",
    "NEW_DATA",
    "REQUEST_KIND",
    "RETRAIN",
    "Action",
    "Controller",
    "ControllerState",
    "Loop",
    "default_group",
]
