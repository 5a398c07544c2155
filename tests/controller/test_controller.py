"""The reconcile loop over files cut from Elec2: first model, manual retrain, restart, two controllers."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from ctml.clock import SimulatedClock
from ctml.controller import Controller

from .conftest import make_app, open_workspace, write_part


def kinds(actions: list) -> list[str]:  # type: ignore[type-arg]
    return [str(a) for a in actions]


def test_first_cycle_makes_a_champion_and_a_manual_request_retrains(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    write_part(data, elec2, 1)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    controller = Controller(ws, make_app(data), owner="a")
    first = controller.reconcile_once()
    assert kinds(first)[:4] == ["ingest=new", "trigger=retrain", "train=registered", "gate=promote"]
    assert ws.registry.resolve("elec2", "champion").version == 1
    version = ws.registry.resolve("elec2", 1)
    assert version.meta["job"].startswith("job-")
    assert ws.meta.models.versions("elec2")[0].run_id is not None
    gates = ws.meta.decisions.list(app="elec2", kind="gate")
    assert [g.outcome for g in gates] == ["promote"]
    assert gates[0].evidence["first_model"] is True

    clock.advance(60)
    idle = controller.reconcile_once()
    assert [a.kind for a in idle] == ["trigger"]
    assert idle[0].outcome == "hold"
    assert len(ws.meta.models.versions("elec2")) == 1

    write_part(data, elec2, 2)
    controller.request_retrain("alice", "new data is in")
    clock.advance(60)
    again = controller.reconcile_once()
    assert kinds(again)[:3] == ["ingest=new", "trigger=retrain", "train=registered"]
    assert again[1].evidence["rule"]["fired"] is True
    gate = next(a for a in again if a.kind == "gate")
    stored = ws.meta.decisions.list(app="elec2", kind="gate")
    assert len(stored) == 2
    assert stored[0].id == gate.decision_id
    assert stored[0].version == 2
    assert stored[0].evidence["first_model"] is False  # judged against the champion on the same holdout rows

    clock.advance(60)
    after = controller.reconcile_once()  # the request was handled: it does not fire again
    assert not any(a.kind == "train" for a in after)
    ws.close()


def test_a_restarted_controller_continues_from_the_stored_state(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    ws = open_workspace(tmp_path, url, clock)
    Controller(ws, make_app(data), owner="a").reconcile_once()
    ws.close()

    clock.advance(30)
    ws = open_workspace(tmp_path, url, clock)
    again = Controller(ws, make_app(data), owner="a").reconcile_once()
    assert [a.kind for a in again] == ["trigger"]  # no second ingest, no second first model
    assert len(ws.meta.models.versions("elec2")) == 1
    state, revision = Controller(ws, make_app(data), owner="b").state()
    assert state.champion is not None
    assert state.champion["version"] == 1
    assert revision >= 2
    ws.close()


def test_a_job_left_by_a_killed_controller_is_finished_without_registering_twice(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    controller = Controller(ws, make_app(data), owner="a")

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed after registering, before the verdict")

    monkeypatch.setattr(Controller, "_judge", crash)
    with pytest.raises(KeyboardInterrupt):
        controller.reconcile_once()
    monkeypatch.undo()
    assert len(ws.meta.models.versions("elec2")) == 1
    assert Controller(ws, make_app(data)).state()[0].job is not None

    clock.advance(400)  # past the lease of the killed one
    resumed = Controller(ws, make_app(data), owner="b").reconcile_once()
    assert kinds(resumed) == ["train=found", "gate=promote", "rollout=start"]
    assert len(ws.meta.models.versions("elec2")) == 1
    assert ws.registry.resolve("elec2", "champion").version == 1
    ws.close()


def test_two_controllers_on_one_postgres_database_only_one_acts(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock, postgres_url: str
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    one = open_workspace(tmp_path, postgres_url, clock)
    two = open_workspace(tmp_path, postgres_url, clock)
    a = Controller(one, make_app(data), owner="a")
    b = Controller(two, make_app(data), owner="b")
    acted = a.reconcile_once()
    held = b.reconcile_once()
    assert "gate=promote" in kinds(acted)
    assert kinds(held) == ["lease=held"]
    assert "held by a" in held[0].summary
    write_part(data, elec2, 1)
    b.request_retrain("bob", "please")
    clock.advance(60)
    assert kinds(b.reconcile_once()) == ["lease=held"]
    assert "train=registered" in kinds(a.reconcile_once())
    assert len(one.meta.models.versions("elec2")) == 2

    a.release()  # a clean shutdown hands over at once
    clock.advance(60)
    taken = b.reconcile_once()
    assert taken[0].kind == "rollout"  # b now steps the roll-out a started
    assert len(two.meta.models.versions("elec2")) == 2  # nothing was trained twice
    one.close()
    two.close()


def test_the_champion_is_still_observed_while_a_roll_out_runs(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock
) -> None:
    from ctml.monitor import Monitor
    from ctml.rollout import RolloutPlan

    data = tmp_path / "data"
    write_part(data, elec2, 0)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    controller = Controller(ws, make_app(data), owner="a")
    controller.reconcile_once()  # the first champion, v1
    challenger = ws.registry.register("elec2", ws.registry.load_bytes("elec2", 1), flavor="sklearn").version
    controller.rollouts.start("elec2", "elec2", challenger, RolloutPlan(shadow_s=0, canary=(50.0,), bake_s=3600))
    monitor = Monitor(ws.meta, "elec2", model="elec2")
    for _ in range(3):
        clock.advance(60)
        assert [a.kind for a in controller.reconcile_once()] == ["rollout"]  # baking: the policy does not act
    points = monitor.history("monitor.version")
    assert [p.value for p in points] == [1.0, 1.0, 1.0]  # one observation of the champion per cycle, no gap
    assert ws.registry.resolve("elec2", "champion").version == 1
    ws.close()
