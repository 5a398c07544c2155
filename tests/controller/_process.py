"""A controller in a process of its own, for the crash tests: it runs :class:`ctml.controller.Loop` on a real
app and bus until it is killed, and may stop at a named point first, so the test can ``kill -9`` it there.

At the point it writes a file named after it into ``marks`` and sleeps; nothing is faked, the code up to the
point ran for real and the code after it never runs. The points:

- ``ingest``: a dataset version is stored, its file's watermark not yet advanced;
- ``train``: a training job is stored with its trigger decision, and inside its open run the model is fitted,
  not yet registered;
- ``registered``: the job's model version is registered, not yet judged;
- ``rollout_started``: the roll-out of a promoted version started, the verdict not yet stored with the state;
- ``request_stored``: a "retrain" event is stored as a request, not yet acked on the bus;
- ``rollout_step``: a roll-out step moved the roll-out (and the alias), the cycle not yet finished.

The tournament's points (:func:`run_tournament_cycle`, one cycle that promotes a challenger on live rows):

- ``change_stored``: the promotion is stored with its decision, not yet applied;
- ``promoted``: the champion alias moved, the route table's challengers not yet changed;
- ``challengers_set``: the route table lists the new challengers, the change not yet cleared.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

POINTS = ("ingest", "train", "registered", "rollout_started", "request_stored", "rollout_step")
TOURNAMENT_POINTS = ("change_stored", "promoted", "challengers_set")
OWNER = "controller-under-test"
"""Every run takes the same owner: a restart of one controller (a pod keeps its name), not a second one."""


def _stop(marks: Path, point: str) -> None:
    (marks / point).write_text("reached")
    time.sleep(3600)


def _after(owner: Any, name: str, marks: Path, point: str, when: Callable[[Any], bool] = lambda _: True) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(result):
            _stop(marks, point)
        return result

    setattr(owner, name, wrapped)


def _before(owner: Any, name: str, marks: Path, point: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        _stop(marks, point)
        return original(*args, **kwargs)

    setattr(owner, name, wrapped)


def stop_at(point: str, marks: Path) -> None:
    """Make this process stop at ``point`` (one of :data:`POINTS`)."""
    import ctml.controller._controller as controller_module
    from ctml.controller import Controller
    from ctml.meta._watermarks import WatermarkRepo
    from ctml.registry import ModelRegistry
    from ctml.rollout import Rollouts

    if point == "ingest":
        _before(WatermarkRepo, "advance", marks, point)
    elif point == "train":
        _after(controller_module, "train", marks, point)
    elif point == "registered":
        _after(ModelRegistry, "register", marks, point)
    elif point == "rollout_started":
        _after(Rollouts, "start", marks, point)
    elif point == "request_stored":
        _after(Controller, "_store_request", marks, point)
    elif point == "rollout_step":
        _after(Rollouts, "step", marks, point, when=lambda decision: decision.outcome == "advance")
    else:
        raise ValueError(f"unknown point {point!r}; expected one of {POINTS}")


def run_controller(
    home: str, meta_url: str, data: str, bus: Any, group: str, point: str | None, marks: str, lease_ttl: float
) -> None:
    """The child's body: a workspace and bus of its own, the loop, forever (until killed)."""
    from ctml.controller import Controller, Loop

    from .conftest import event_app, open_workspace

    if point is not None:
        stop_at(point, Path(marks))
    workspace = open_workspace(Path(home), meta_url)
    controller = Controller(workspace, event_app(Path(data)), owner=OWNER, lease_ttl=timedelta(seconds=lease_ttl))
    Loop(controller, bus=bus.open(), group=group, interval=timedelta(seconds=0.2)).run()


def run_tournament_cycle(home: str, meta_url: str, data: str, point: str, marks: str) -> None:
    """The child's body for the tournament's crash test: one cycle of a tournament app, stopped at ``point``."""
    from ctml.controller import Controller
    from ctml.meta._control import ControllerStateRepo
    from ctml.meta._serving import RouteRepo
    from ctml.registry import ModelRegistry

    from .conftest import open_workspace, tournament_app

    folder = Path(marks)
    if point == "change_stored":
        _after(ControllerStateRepo, "transition", folder, point, when=lambda r: r.state.get("applying") is not None)
    elif point == "promoted":
        _after(ModelRegistry, "promote", folder, point)
    elif point == "challengers_set":
        _after(RouteRepo, "set", folder, point)
    else:
        raise ValueError(f"unknown point {point!r}; expected one of {TOURNAMENT_POINTS}")
    workspace = open_workspace(Path(home), meta_url)
    Controller(workspace, tournament_app(Path(data)), owner=OWNER).reconcile_once()
