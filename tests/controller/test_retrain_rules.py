"""What the controller counts and keeps between retrains: the volume since the last job, a rejected challenger's
standing condition, the holdout of a sliding window, and batches that fail validation (``on_invalid``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ctml.clock import SimulatedClock
from ctml.controller import Controller
from ctml.controller._history import load_history, source_versions
from ctml.evaluate import Gate
from ctml.train import SlidingWindow
from ctml.triggers import Observation, PerformanceDrop, RetrainPolicy, TriggerState, Volume

from .conftest import ROWS, make_app, open_workspace, write_part


def test_volume_counts_rows_since_the_last_job_even_a_rejected_one(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    write_part(data, elec2, 1)
    never_better = Gate(min_effect=0.5, floors={"accuracy": 0.55})  # no challenger wins by 50 points
    app = replace(make_app(data), gate=never_better,
                  policy=RetrainPolicy(Volume(ROWS // 2), cooldown=timedelta(0), max_per_day=None))  # fmt: skip
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    controller = Controller(ws, app, owner="a")
    assert [a.outcome for a in controller.reconcile_once() if a.kind == "gate"] == ["promote"]
    write_part(data, elec2, 2)
    clock.advance(60)
    tried = controller.reconcile_once()
    assert [a.outcome for a in tried if a.kind in ("trigger", "gate")] == ["retrain", "reject"]
    for _ in range(3):  # the rejected challenger saw every row: nothing new to count
        clock.advance(60)
        idle = controller.reconcile_once()
        assert [a.outcome for a in idle if a.kind == "trigger"] == ["hold"], idle
    assert controller.state()[0].trained_rows == 3 * ROWS
    write_part(data, elec2, 3)
    clock.advance(60)
    assert [a.outcome for a in controller.reconcile_once() if a.kind == "trigger"] == ["retrain"]
    ws.close()


def test_a_rejected_challenger_rearms_the_rules_that_fired() -> None:
    state = TriggerState(memory={"any": {"performance": {"armed": False}, "code_change": {"tried": "f00d"}}})
    rearmed = state.rearmed()
    assert rearmed.memory == {"any": {"performance": {"armed": True}, "code_change": {"tried": "f00d"}}}
    rule = PerformanceDrop(max_drop=0.03, min_rows=100)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    low = Observation(at, performance=0.7, baseline=0.9, labelled_rows=500, metric="accuracy")
    assert rule.check(low, {"armed": False}).fired is False  # disarmed: the same drop does not fire again
    fresh = Observation(at, performance=None, baseline=0.9, labelled_rows=0, metric="accuracy")
    assert rule.check(fresh, {"armed": False}).memory == {"armed": True}  # a new champion: measured afresh
    assert rule.check(low, {"armed": True}).fired is True


def test_the_holdout_is_a_share_of_the_sliding_window_not_of_all_history(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock
) -> None:
    data = tmp_path / "data"
    for i in range(4):
        write_part(data, elec2, i)
    app = replace(make_app(data), training=SlidingWindow(rows=1000), holdout=0.2)
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    controller = Controller(ws, app, owner="a")
    controller.reconcile_once()
    history = load_history(controller.datasets, app, source_versions(controller.datasets, app.name))
    assert history.rows == 4 * ROWS
    assert history.rows - history.split == 200  # 20% of the 1,000-row window, not 1,600 rows of history
    ws.close()


def _unit_change(elec2: pa.Table, index: int) -> pa.Table:
    part = elec2.slice(index * ROWS, ROWS)
    column = part.schema.get_field_index("nswdemand")
    return part.set_column(column, "nswdemand", pc.multiply(part.column("nswdemand"), 1000.0))


def test_a_batch_failing_validation_is_left_out_or_kept_as_the_app_says(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock
) -> None:
    for on_invalid in ("reject", "keep"):
        root = tmp_path / on_invalid
        data = root / "data"
        write_part(data, elec2, 0)
        ws = open_workspace(root, f"sqlite:///{root / 'meta.db'}", clock)
        controller = Controller(ws, replace(make_app(data), on_invalid=on_invalid), owner="a")
        controller.reconcile_once()
        pacsv.write_csv(_unit_change(elec2, 1), data / "part-01.csv")
        clock.advance(60)
        ingest = [a for a in controller.reconcile_once() if a.kind == "ingest"]
        rejections = ws.meta.decisions.list(app="elec2", kind="validation")  # listed with the app's decisions
        assert len(rejections) == 1
        assert "nswdemand" in str(rejections[0].evidence)
        versions = source_versions(controller.datasets, "elec2")
        if on_invalid == "reject":
            assert [a.outcome for a in ingest] == ["rejected"]
            assert len(versions) == 1
        else:
            assert [a.outcome for a in ingest] == ["rejected", "kept"]
            assert [v.rows for v in versions] == [ROWS, ROWS]
        ws.close()


def test_a_training_job_that_refuses_its_data_is_recorded_and_the_loop_goes_on(
    tmp_path: Path, elec2: pa.Table, clock: SimulatedClock
) -> None:
    data = tmp_path / "data"
    write_part(data, elec2, 0)
    app = replace(make_app(data), training=SlidingWindow(rows=500), on_invalid="keep")  # keep the one-class batch
    ws = open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    controller = Controller(ws, app, owner="a")
    controller.reconcile_once()
    part = elec2.slice(ROWS, ROWS)
    one_class = part.set_column(part.schema.get_field_index("class"), "class", pa.array(["UP"] * ROWS))
    pacsv.write_csv(one_class, data / "part-01.csv")
    controller.request_retrain("alice", "new rows, all UP")
    clock.advance(60)
    acted = controller.reconcile_once()
    failed = [a for a in acted if a.kind == "train"]
    assert [a.outcome for a in failed] == ["failed"]
    assert "only the class 'UP'" in failed[0].summary
    stored = ws.meta.decisions.list(app="elec2", kind="train")
    assert [d.outcome for d in stored] == ["failed"]
    assert stored[0].evidence["error"] == "ConfigError"
    assert controller.state()[0].job is None
    assert ws.registry.resolve("elec2", "champion").version == 1  # the champion keeps serving
    clock.advance(60)
    assert [a.outcome for a in controller.reconcile_once() if a.kind == "trigger"] == ["hold"]
    ws.close()
