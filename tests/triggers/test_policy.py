"""Retraining policies: each rule with known answers, hysteresis, cooldown, budget, and replay determinism."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctml.errors import ConfigError
from ctml.triggers import (
    AllOf,
    AnyOf,
    CodeChange,
    Drift,
    Manual,
    ManualRequest,
    Observation,
    PerformanceDrop,
    RetrainPolicy,
    Schedule,
    TriggerState,
    Volume,
)

T0 = datetime(2026, 3, 1, 0, tzinfo=UTC)


def replay(policy: RetrainPolicy, observations: list[Observation]) -> list[str]:
    state = TriggerState()
    outcomes = []
    for obs in observations:
        decision, state = policy.decide(obs, state)
        outcomes.append(decision.outcome)
    return outcomes


def test_drift_hovering_at_the_line_retrains_once_until_it_falls_below_the_rearm_level() -> None:
    policy = RetrainPolicy(Drift(above=0.3, rearm_below=0.1), cooldown=timedelta(0), max_per_day=None)
    scores = [0.35, 0.31, 0.29, 0.32, 0.05, 0.4]
    obs = [Observation(T0 + timedelta(hours=i), drift_score=s) for i, s in enumerate(scores)]
    assert replay(policy, obs) == ["retrain", "hold", "hold", "hold", "hold", "retrain"]


def test_a_firing_suppressed_by_the_cooldown_stays_armed_and_retrains_after_it() -> None:
    policy = RetrainPolicy(AnyOf([Drift(above=0.3)]), cooldown=timedelta(hours=4), max_per_day=None)
    state = TriggerState(last_retrain=T0)
    first, state = policy.decide(Observation(T0 + timedelta(hours=1), drift_score=0.5), state)
    assert first.outcome == "suppressed"
    assert first.evidence["suppressed_by"] == "cooldown: the last retrain was 1h00m ago, under 4h00m"
    later, state = policy.decide(Observation(T0 + timedelta(hours=5), drift_score=0.5), state)
    assert later.outcome == "retrain"
    assert state.last_retrain == T0 + timedelta(hours=5)


def test_the_daily_budget_holds_until_the_next_utc_day() -> None:
    policy = RetrainPolicy(Volume(10), cooldown=timedelta(0), max_per_day=2)
    hours = [1, 2, 3, 23, 25]
    obs = [Observation(T0 + timedelta(hours=h), new_rows=50) for h in hours]
    assert replay(policy, obs) == ["retrain", "retrain", "suppressed", "suppressed", "retrain"]


def test_a_manual_request_passes_cooldown_and_budget_and_names_who_asked() -> None:
    policy = RetrainPolicy(AnyOf([Volume(10), Manual()]), cooldown=timedelta(days=1), max_per_day=1)
    state = TriggerState(last_retrain=T0, day="2026-03-01", retrains_today=1)
    ask = ManualRequest("req-1", "ana", "new labels from the audit")
    decision, state = policy.decide(Observation(T0 + timedelta(minutes=5), manual=(ask,)), state)
    assert decision.outcome == "retrain"
    assert decision.reason == "manual: ana: new labels from the audit"
    assert state.retrains_today == 2


def test_a_code_change_fires_once_per_new_fingerprint() -> None:
    policy = RetrainPolicy(CodeChange(), cooldown=timedelta(0), max_per_day=None)
    obs = [
        Observation(T0, pipeline_fingerprint="a" * 64, champion_fingerprint="a" * 64),
        Observation(T0 + timedelta(hours=1), pipeline_fingerprint="b" * 64, champion_fingerprint="a" * 64),
        # the gate rejected b's model: the champion is still a's; b is not retrained again
        Observation(T0 + timedelta(hours=2), pipeline_fingerprint="b" * 64, champion_fingerprint="a" * 64),
        Observation(T0 + timedelta(hours=3), pipeline_fingerprint="c" * 64, champion_fingerprint="a" * 64),
    ]
    assert replay(policy, obs) == ["hold", "retrain", "hold", "retrain"]


def test_all_of_needs_every_rule() -> None:
    policy = RetrainPolicy(AllOf([Drift(above=0.3), Volume(500)]), cooldown=timedelta(0), max_per_day=None)
    obs = [
        Observation(T0, drift_score=0.5, new_rows=100),
        Observation(T0 + timedelta(hours=1), drift_score=0.1, new_rows=900),
        Observation(T0 + timedelta(hours=2), drift_score=0.5, new_rows=900),
    ]
    assert replay(policy, obs) == ["hold", "hold", "retrain"]


def test_a_performance_drop_for_an_error_metric_counts_upwards() -> None:
    rule = PerformanceDrop(max_drop=2.0, min_rows=100)
    worse = Observation(T0, performance=14.0, baseline=11.0, labelled_rows=300, metric="mae", higher_is_better=False)
    better = Observation(T0, performance=9.0, baseline=11.0, labelled_rows=300, metric="mae", higher_is_better=False)
    few = Observation(T0, performance=30.0, baseline=11.0, labelled_rows=20, metric="mae", higher_is_better=False)
    assert rule.check(worse, {}).fired
    assert rule.check(worse, {}).reason == (
        "performance: mae 14.0000 vs baseline 11.0000 on 300 rows (drop 3.0000 > 2.0)"
    )
    assert not rule.check(better, {}).fired
    assert not rule.check(few, {}).fired


def test_a_nightly_schedule_fires_after_each_tick_once() -> None:
    policy = RetrainPolicy(Schedule("0 3 * * *"), cooldown=timedelta(0), max_per_day=None)
    hours = [0, 2, 4, 5, 26, 28]
    obs = [Observation(T0 + timedelta(hours=h)) for h in hours]
    assert replay(policy, obs) == ["hold", "hold", "retrain", "hold", "hold", "retrain"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Volume(0), "The 'min_rows' parameter of Volume must be an int >= 1. Got 0 instead."),
        (lambda: Drift(above=2), "The 'above' parameter of Drift must be a number in [0.0, 1.0]. Got 2 instead."),
        (lambda: Schedule("every night"), "five-field cron expression"),
        (lambda: RetrainPolicy(Volume(5), max_per_day=0), "'max_per_day' parameter of RetrainPolicy"),
        (lambda: AnyOf([Volume(5), Volume(6)]), "distinct names"),
        (lambda: Observation(datetime(2026, 1, 1)), "timezone-aware"),  # noqa: DTZ001 - the bad input under test
    ],
)
def test_bad_settings_say_what_is_wrong(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(".", r"\.")):
        make()


observations = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=600),
        st.integers(min_value=0, max_value=2000),
        st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
        st.one_of(st.none(), st.floats(min_value=0.4, max_value=0.95)),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(observations)
def test_a_policy_replays_the_same_through_its_stored_state(
    steps: list[tuple[int, int, float | None, float | None, bool]],
) -> None:
    policy = RetrainPolicy(
        AnyOf([Schedule("0 */6 * * *"), Volume(1500), Drift(above=0.3), PerformanceDrop(0.05, min_rows=10), Manual()]),
        cooldown=timedelta(hours=2),
        max_per_day=3,
    )
    at, live, stored = T0, TriggerState(), TriggerState()
    for minutes, rows, drift, accuracy, asked in steps:
        at += timedelta(minutes=minutes)
        manual = (ManualRequest("r", "ana", "why"),) if asked else ()
        obs = Observation(at, rows, drift, (), accuracy, 0.9, 100, manual=manual)
        one, live = policy.decide(obs, live)
        # the controller keeps the state as JSON between looks: a restart must decide the same
        two, stored = policy.decide(obs, TriggerState.from_json(json.loads(json.dumps(stored.to_json()))))
        assert (one.outcome, one.reason) == (two.outcome, two.reason)
        json.dumps(one.evidence)
