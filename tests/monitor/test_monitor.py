"""The monitor against a real SQLite store and elec2 rows, with answers known by construction."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ctml.errors import ConfigError
from ctml.monitor import PREDICTION_PROFILE, Monitor, prediction_reference
from ctml.triggers import Drift, Observation, PerformanceDrop

from .conftest import APP, MODEL, T0, Env, held_out, make_env, rows_of

HOUR = timedelta(hours=1)


def monitor(env: Env, **options: Any) -> Monitor:
    return Monitor(env.meta, APP, model=MODEL, clock=env.clock, **options)


def flip(label: str) -> str:
    return "DOWN" if label == "UP" else "UP"


def spread_sample(table: pa.Table, n: int) -> list[dict[str, Any]]:
    """``n`` rows evenly spread over the whole table: the same period as the training rows."""
    rows = rows_of(table)
    return [rows[i * len(rows) // n] for i in range(n)]


def test_no_drift_on_held_out_rows_of_the_training_period(env: Env, elec2: pa.Table) -> None:
    rows = spread_sample(held_out(elec2), 1500)
    env.spread(rows, ["UP"] * len(rows), T0, HOUR)
    report = monitor(env).observe(T0 + HOUR)
    assert report.rows == 1500
    assert report.data_drift is not None
    assert report.data_drift.drifted_features == ()
    assert report.data_drift.share == 0.0
    assert set(report.data_drift.features) == {
        "date", "day", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer"
    }  # fmt: skip


def test_a_shifted_feature_drifts_and_is_named(env: Env, elec2: pa.Table) -> None:
    rows = spread_sample(held_out(elec2), 1500)
    for row in rows:
        row["nswprice"] *= 1000
    env.spread(rows, ["UP"] * len(rows), T0, HOUR)
    report = monitor(env).observe(T0 + HOUR)
    assert report.data_drift is not None
    assert report.data_drift.drifted_features == ("nswprice",)
    assert report.data_drift.share == pytest.approx(1 / 8)
    assert report.to_observation().drifted_features == ("nswprice",)


def test_a_later_part_of_the_stream_drifts(env: Env, elec2: pa.Table, tmp_path: Path) -> None:
    import pyarrow.csv as pacsv

    from .conftest import ELEC2

    later = pacsv.read_csv(ELEC2).slice(30_000, 1500)
    env.spread(rows_of(later), ["UP"] * 1500, T0, HOUR)
    report = monitor(env).observe(T0 + HOUR)
    assert report.data_drift is not None
    assert "date" in report.data_drift.drifted_features  # the stream moved on: at least time has drifted
    assert report.data_drift.share >= 0.25


def test_accuracy_coverage_and_the_label_delay(env: Env, elec2: pa.Table) -> None:
    table = held_out(elec2)
    rows, truth = rows_of(table)[:240], table.column("class").to_pylist()[:240]
    said = [flip(y) if i % 4 == 0 else y for i, y in enumerate(truth)]  # every 4th is wrong
    # 120 predictions in [T0, T0+1h), 120 in [T0+1h, T0+2h); one request per row
    ids = env.spread(rows, said, T0, 2 * HOUR)
    labelled = [i for i in range(240) if i % 3 != 0]  # two thirds get a label
    env.label([ids[i] for i in labelled], [truth[i] for i in labelled], T0 + 2 * HOUR)

    now = T0 + 2 * HOUR
    plain = monitor(env).observe(now, record=False)
    perf = plain.performance
    assert (perf.start, perf.end, perf.due) == (now - HOUR, now, 120)
    second = [i for i in labelled if i >= 120]
    assert perf.labelled == len(second) == 80
    assert perf.coverage == pytest.approx(80 / 120)
    assert perf.value == pytest.approx(sum(said[i] == truth[i] for i in second) / 80)

    delayed = monitor(env, label_delay=HOUR).observe(now, record=False).performance
    first = [i for i in labelled if i < 120]  # the due window is the first hour: the last hour is not due yet
    assert (delayed.start, delayed.end, delayed.due, delayed.labelled) == (T0, T0 + HOUR, 120, 80)
    assert delayed.value == pytest.approx(sum(said[i] == truth[i] for i in first) / 80)
    assert delayed.metric == "accuracy"
    assert delayed.higher_is_better

    half = monitor(env, label_delay=timedelta(minutes=30)).observe(now, record=False).performance
    assert half.due == 120  # [T0+30m, T0+1h30m): 60 + 60 rows; the newest 30 minutes are excluded
    assert half.end == now - timedelta(minutes=30)


def test_labels_that_arrive_after_the_look_do_not_count(env: Env, elec2: pa.Table) -> None:
    table = held_out(elec2)
    rows, truth = rows_of(table)[:100], table.column("class").to_pylist()[:100]
    ids = env.spread(rows, truth, T0, HOUR)
    env.label(ids[:50], truth[:50], T0 + HOUR)
    env.label(ids[50:], truth[50:], T0 + 3 * HOUR)  # a backtest replays labels stamped later
    perf = monitor(env).observe(T0 + HOUR, record=False).performance
    assert (perf.due, perf.labelled, perf.value) == (100, 50, 1.0)


def test_regression_reports_mae(env: Env) -> None:
    rows = [{"x": float(i)} for i in range(40)]
    said = [float(i) for i in range(40)]
    ids = env.spread(rows, said, T0, HOUR)
    env.label(ids, [float(i) + (2.0 if i % 2 else -1.0) for i in range(40)], T0 + HOUR)
    perf = monitor(env, task="regression").observe(T0 + HOUR, record=False).performance
    assert perf.metric == "mae"
    assert not perf.higher_is_better
    assert perf.value == pytest.approx(1.5)


def test_the_detector_fires_on_an_error_rate_jump(env: Env, elec2: pa.Table) -> None:
    table = held_out(elec2)
    rows, truth = rows_of(table), table.column("class").to_pylist()
    mon = monitor(env)
    reports = []
    for hour in range(8):
        lo = hour * 300
        every = 20 if hour < 5 else 2  # the error rate jumps from 5% to 50% in the sixth hour
        said = [flip(y) if i % every == 0 else y for i, y in enumerate(truth[lo : lo + 300])]
        start = T0 + hour * HOUR
        ids = env.spread(rows[lo : lo + 300], said, start, HOUR)
        env.label(ids, truth[lo : lo + 300], start + HOUR)
        reports.append(mon.observe(start + HOUR))
    fired = [r.detector.drift_detected for r in reports]
    assert fired[:5] == [False] * 5
    assert any(fired[5:])
    first = next(r for r in reports if r.detector.drift_detected)
    assert all(t >= T0 + 5 * HOUR for t in first.detector.fired_at)
    assert [r.detector.fed for r in reports] == [300] * 8
    assert reports[-1].detector.total == 2400
    assert reports[-1].detector.estimation > 0.3
    assert mon.history("monitor.error_drift")[5:] != [0.0] * 3


def test_observations_are_stored_as_time_series(env: Env, elec2: pa.Table) -> None:
    table = held_out(elec2)
    rows, truth = rows_of(table), table.column("class").to_pylist()
    mon = monitor(env, min_rows=50)
    for hour in range(3):
        ids = env.spread(
            rows[hour * 100 : hour * 100 + 100], truth[hour * 100 : hour * 100 + 100], T0 + hour * HOUR, HOUR
        )
        env.label(ids[:50], truth[hour * 100 : hour * 100 + 50], T0 + (hour + 1) * HOUR)
        env.clock.set(T0 + (hour + 1) * HOUR)
        mon.observe()
    points = mon.history("monitor.accuracy")
    assert [(p.step, p.at, p.value) for p in points] == [(k, T0 + (k + 1) * HOUR, 1.0) for k in range(3)]
    assert [p.value for p in mon.history("monitor.label_coverage")] == [0.5, 0.5, 0.5]
    assert [p.value for p in mon.history("monitor.rows")] == [100.0] * 3
    assert len(mon.history("monitor.drift.share")) == 3
    assert len(mon.history("monitor.drift.nswprice")) == 3
    assert [p.step for p in mon.history("monitor.rows", T0 + 2 * HOUR, T0 + 3 * HOUR)] == [1]
    run = env.meta.runs.search("kind = 'monitor'", app=APP)
    assert len(run) == 1
    assert run[0].name == "monitor"
    # a second monitor object (another process) finds the same run and continues the steps
    assert monitor(env).observe(T0 + 4 * HOUR).step == 3


def _replay_hours(env: Env, elec2: pa.Table, looks: list[Monitor]) -> list[Any]:
    """8 hours of traffic, labels arriving with a lag of up to 2 hours; the error rate jumps at hour 5."""
    table = held_out(elec2)
    rows, truth = rows_of(table), table.column("class").to_pylist()
    reports = []
    for hour in range(8):
        lo = hour * 200
        every = 20 if hour < 5 else 2
        said = [flip(y) if i % every == 0 else y for i, y in enumerate(truth[lo : lo + 200])]
        ids = env.spread(rows[lo : lo + 200], said, T0 + hour * HOUR, HOUR)
        env.label(ids[:100], truth[lo : lo + 100], T0 + (hour + 1) * HOUR)
        env.label(ids[100:150], truth[lo + 100 : lo + 150], T0 + (hour + 2) * HOUR)  # late labels
        env.label(ids[150:], truth[lo + 150 : lo + 200], T0 + (hour + 3) * HOUR)  # too late for the detector
        reports.append(looks[hour].observe(T0 + (hour + 1) * HOUR))
    return reports


def test_a_restart_continues_the_detector(tmp_path: Path, elec2: pa.Table) -> None:
    one = make_env(tmp_path / "one", elec2)
    two = make_env(tmp_path / "two", elec2)
    options = {"label_delay": timedelta(minutes=30)}
    steady = monitor(one, **options)
    straight = _replay_hours(one, elec2, [steady] * 8)
    first, second = monitor(two, **options), monitor(two, **options)  # the process restarts after 4 looks
    restarted = _replay_hours(two, elec2, [first] * 4 + [second] * 4)
    for a, b in zip(straight, restarted, strict=False):
        assert a.step == b.step
        assert a.detector.to_json() == b.detector.to_json()
        assert a.performance.to_json() == b.performance.to_json()
    assert any(r.detector.drift_detected for r in straight)
    assert [r.detector.fed for r in straight[1:4]] == [150, 150, 150]  # 50 labels an hour came too late
    one.meta.close()
    two.meta.close()


def test_to_observation_with_the_registry_baseline(tmp_path: Path, elec2: pa.Table) -> None:
    env = make_env(tmp_path, elec2, version_metrics={"holdout_accuracy": 0.9})
    table = held_out(elec2)
    rows, truth = spread_sample(table, 600), table.column("class").to_pylist()[:600]
    said = [flip(y) if i % 10 < 3 else y for i, y in enumerate(truth)]
    ids = env.spread(rows, said, T0, HOUR)
    env.label(ids, truth, T0 + HOUR)
    report = monitor(env).observe(T0 + HOUR)
    observation = report.to_observation(pipeline_fingerprint="abc")
    assert isinstance(observation, Observation)
    assert (observation.performance, observation.baseline, observation.labelled_rows) == (0.7, 0.9, 600)
    assert (observation.new_rows, observation.metric, observation.higher_is_better) == (600, "accuracy", True)
    assert observation.drift_score == 0.0
    assert observation.pipeline_fingerprint == "abc"
    assert report.baseline_source == "registry"
    assert PerformanceDrop(max_drop=0.1, min_rows=50).check(observation, {}).fired
    assert not Drift(above=0.3).check(observation, {}).fired
    env.meta.close()


def test_without_a_stored_baseline_the_first_window_is_the_baseline(env: Env, elec2: pa.Table) -> None:
    table = held_out(elec2)
    rows, truth = rows_of(table)[:200], table.column("class").to_pylist()[:200]
    said = [flip(y) if i % 10 == 0 else y for i, y in enumerate(truth)]  # 90% in both hours
    said[100:120] = [flip(y) for y in truth[100:120]]  # 72% in the second: 20 + 8 of 100 wrong
    ids = env.spread(rows, said, T0, 2 * HOUR)
    env.label(ids[:100], truth[:100], T0 + HOUR)
    env.label(ids[100:], truth[100:], T0 + 2 * HOUR)
    mon = monitor(env)
    first = mon.observe(T0 + HOUR)
    second = mon.observe(T0 + 2 * HOUR)
    assert (first.baseline, first.baseline_source) == (pytest.approx(0.9), "first window")
    assert (second.performance.value, second.baseline) == (pytest.approx(0.72), pytest.approx(0.9))


def test_prediction_drift_against_the_first_window(env: Env, elec2: pa.Table) -> None:
    rows = rows_of(held_out(elec2))[:600]
    said = ["UP", "DOWN"] * 100 + ["UP", "DOWN"] * 100 + ["UP"] * 200
    env.spread(rows, said, T0, 3 * HOUR)
    mon = monitor(env, min_rows=100)  # two classes: 200 predictions measure their shares well enough
    first = mon.observe(T0 + HOUR)
    assert first.prediction_drift is None
    assert any("still filling" in n for n in first.notes)
    same = mon.observe(T0 + 2 * HOUR).prediction_drift
    assert same is not None
    assert (same.reference, same.drifted, same.statistic) == ("first window", False, 0.0)
    moved = mon.observe(T0 + 3 * HOUR).prediction_drift
    assert moved is not None
    assert moved.drifted
    assert moved.statistic > 0.3


def test_prediction_drift_against_the_stored_holdout_predictions(tmp_path: Path, elec2: pa.Table) -> None:
    env = make_env(tmp_path, elec2)
    env.registry.register(
        MODEL, b"model-2", app=APP, meta={PREDICTION_PROFILE: prediction_reference(["UP", "DOWN"] * 50)}
    )
    env.registry.promote(MODEL, 2)
    rows = rows_of(held_out(elec2))[:100]
    env.spread(rows, ["UP"] * 100, T0, HOUR, version=2)
    report = monitor(env, min_rows=50).observe(T0 + HOUR)
    assert report.version == 2
    assert report.prediction_drift is not None
    assert report.prediction_drift.reference == "registry"
    assert report.prediction_drift.drifted
    assert any("no reference_profile" in n for n in report.notes)  # v2 was registered without one
    env.meta.close()


def test_other_routes_and_versions_are_not_the_champions(env: Env, elec2: pa.Table) -> None:
    rows = rows_of(held_out(elec2))[:90]
    env.spread(rows[:30], ["UP"] * 30, T0, HOUR)
    env.spread(rows[30:60], ["UP"] * 30, T0, HOUR, route="canary", version=2)
    env.spread(rows[60:], ["UP"] * 30, T0, HOUR, route="shadow", version=2)
    assert monitor(env).observe(T0 + HOUR, record=False).rows == 30


def test_bad_parameters_say_what_was_wrong(env: Env) -> None:
    with pytest.raises(ConfigError, match="window"):
        monitor(env, window=timedelta(0))
    with pytest.raises(ConfigError, match="label_delay"):
        monitor(env, label_delay=timedelta(seconds=-1))


@pytest.mark.parametrize("max_rows", [100_000, 150])
def test_a_monitor_that_keeps_its_decoded_rows_reports_what_a_fresh_one_reports(
    env: Env, elec2: pa.Table, max_rows: int
) -> None:
    """One monitor across 15 looks (decoding only each look's new requests) against a fresh monitor at every look,
    over a log that grows between looks: requests at the same time as the last one read, a request logged late
    at an old time, labels that arrive 20-40 minutes after their prediction, labels that arrive after their
    prediction was fed to the detector, and corrected labels."""
    table = held_out(elec2)
    rows, truth = rows_of(table), table.column("class").to_pylist()
    said = [flip(y) if i % 5 == 0 else y for i, y in enumerate(truth)]
    step = timedelta(minutes=20)
    options: dict[str, Any] = {"label_delay": HOUR, "min_rows": 50, "max_rows": max_rows}
    kept = monitor(env, **options)
    ids: list[str] = []
    made: list[Any] = []  # the prediction time of each id
    for look in range(15):
        now = T0 + step * (look + 1)
        part = slice(look * 60, look * 60 + 60)
        ids += env.spread(rows[part], said[part], now - step, step)
        made += [now - step + step * i / 60 for i in range(60)]
        ids += env.log(rows[part][:2], said[part][:2], made[-1])  # the same time as the newest row
        made += [made[-1]] * 2
        ids += env.log(rows[part][2:4], said[part][2:4], now - 2 * step)  # logged late, at an old time
        made += [now - 2 * step] * 2
        arrived = [i for i, at in enumerate(made) if now - 2 * step <= at < now - step and i % 7]
        env.label([ids[i] for i in arrived], [truth[i % len(truth)] for i in arrived], now)
        corrected = [i for i, at in enumerate(made) if now - HOUR <= at < now - 2 * step and i % 7 and i % 3 == 0]
        env.label([ids[i] for i in corrected], [flip(truth[i % len(truth)]) for i in corrected], now)
        late = [i for i, at in enumerate(made) if now - 3 * HOUR <= at < now - 2 * HOUR and i % 7 == 0]
        env.label([ids[i] for i in late], [truth[i % len(truth)] for i in late], now)  # after they were fed
        fresh = monitor(env, **options)
        if max_rows < 100_000:  # a restart replays at most max_rows of the stream: start from the same detector
            fresh._stream = copy.deepcopy(kept._stream)
        expected = fresh.observe(now, record=False)
        got = kept.observe(now)
        assert got == expected
        assert got.rows > 0
    assert got.performance.labelled > 0
    assert got.prediction_drift is not None
    assert got.data_drift is not None
    assert got.detector.total > 0
