"""The roll-out state machine: every stage with its route table, each guard rolling back, and its JSON form."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ctml.errors import ConfigError
from ctml.rollout import RolloutPlan, RolloutState, StageStats, routes_for, start, step

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PLAN = RolloutPlan(shadow_s=60, canary=(5, 25, 50), bake_s=120, bake_requests=100, max_error_rate=0.02,
                   max_p99_ms=50, max_metric_drop=0.02)  # fmt: skip
HEALTHY = StageStats(requests=200, errors=1, p99_ms=12.0, candidate_metric=0.81, champion_metric=0.80, labelled=150)


def test_a_healthy_candidate_walks_every_stage_to_full() -> None:
    state = start(PLAN, "elec2", "elec2", candidate=7, previous=6, now=T0)
    seen = [(state.stage_name(PLAN), routes_for(PLAN, state))]
    at = T0
    while state.status == "active":
        at += timedelta(seconds=130)
        state, decision = step(PLAN, state, HEALTHY, at)
        assert decision.outcome in ("advance", "complete")
        seen.append((state.stage_name(PLAN), routes_for(PLAN, state)))
    assert [name for name, _ in seen] == ["shadow", "canary 5%", "canary 25%", "canary 50%", "full", "full"]
    assert seen[0][1] == {"champion": "v6", "canary": None, "shadow": "v7"}
    assert seen[2][1] == {"champion": "v6", "canary": {"ref": "v7", "percent": 25.0}, "shadow": None}
    assert seen[-1][1] == {"champion": "v7", "canary": None, "shadow": None}
    assert decision.outcome == "complete"
    assert [h["event"] for h in state.history] == ["start", "advance", "advance", "advance", "advance", "complete"]


def test_a_stage_holds_until_both_its_bake_time_and_its_requests_are_met() -> None:
    state = start(PLAN, "elec2", "elec2", candidate=7, previous=6, now=T0)
    _, early = step(PLAN, state, HEALTHY, T0 + timedelta(seconds=30))
    _, quiet = step(PLAN, state, StageStats(requests=40), T0 + timedelta(seconds=600))
    assert early.outcome == "hold"
    assert "30 of 60 s" in early.reason
    assert quiet.outcome == "hold"
    assert "40 of 100 requests" in quiet.reason


@pytest.mark.parametrize(
    ("stats", "guard"),
    [
        (StageStats(requests=60, errors=9), "error_rate"),
        (StageStats(requests=60, errors=0, p99_ms=240.0), "p99_latency"),
        (StageStats(requests=60, candidate_metric=0.70, champion_metric=0.80, labelled=60), "live_metric"),
    ],
    ids=["high error rate", "slow model", "worse accuracy on feedback"],
)
def test_a_breached_guard_rolls_the_canary_back_within_its_bake_window(stats: StageStats, guard: str) -> None:
    state = start(PLAN, "elec2", "elec2", candidate=7, previous=6, now=T0)
    state, _ = step(PLAN, state, HEALTHY, T0 + timedelta(seconds=70))  # shadow passed: canary 5%
    state, decision = step(PLAN, state, stats, T0 + timedelta(seconds=100))  # 30 s into a 120 s bake
    assert decision.outcome == "rollback"
    assert state.status == "rolled_back"
    assert f"{guard} breached" in decision.reason
    assert routes_for(PLAN, state) == {"champion": "v6", "canary": None, "shadow": None}
    breached = [g for g in decision.evidence["guards"] if g["status"] == "breached"]  # type: ignore[union-attr]
    assert [g["name"] for g in breached] == [guard]  # type: ignore[index]


def test_guards_wait_for_enough_evidence() -> None:
    state = start(PLAN, "elec2", "elec2", candidate=7, previous=6, now=T0)
    _, decision = step(PLAN, state, StageStats(requests=3, errors=2), T0 + timedelta(seconds=5))
    assert decision.outcome == "hold"
    statuses = {g["name"]: g["status"] for g in decision.evidence["guards"]}  # type: ignore[union-attr,index]
    assert statuses["error_rate"] == "waiting"


def test_a_first_model_has_nothing_to_protect_and_goes_live_at_once() -> None:
    state = start(PLAN, "elec2", "elec2", candidate=1, previous=None, now=T0)
    assert state.status == "completed"
    assert routes_for(PLAN, state) == {"champion": "v1", "canary": None, "shadow": None}


def test_blue_green_switches_at_once_and_switches_back_on_a_breach() -> None:
    plan = RolloutPlan(shadow_s=0, canary=(), bake_s=60, bake_requests=10)
    assert plan.stages == ("full",)
    state = start(plan, "elec2", "elec2", candidate=3, previous=2, now=T0)
    assert routes_for(plan, state)["champion"] == "v3"
    broken, decision = step(plan, state, StageStats(requests=50, errors=20), T0 + timedelta(seconds=10))
    assert decision.outcome == "rollback"
    assert routes_for(plan, broken)["champion"] == "v2"


def test_the_state_survives_its_json_form() -> None:
    state = start(PLAN, "elec2", "elec2", candidate=7, previous=6, now=T0)
    state, _ = step(PLAN, state, HEALTHY, T0 + timedelta(seconds=70))
    again = RolloutState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state
    with pytest.raises(ConfigError, match="malformed"):
        RolloutState.from_json({"app": "x"})


def test_bad_plans_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="increasing percentages"):
        RolloutPlan(canary=(25, 5))
    with pytest.raises(ConfigError, match="'max_error_rate' parameter of RolloutPlan must be in"):
        RolloutPlan(max_error_rate=2)


def test_a_drop_that_chance_explains_does_not_roll_back() -> None:
    state = start(PLAN, "elec2", "elec2", candidate=7, previous=6, now=T0)
    state, _ = step(PLAN, state, HEALTHY, T0 + timedelta(seconds=70))
    noisy = StageStats(requests=60, candidate_metric=0.74, champion_metric=0.80, labelled=60, metric_se=0.08)
    sure = StageStats(requests=60, candidate_metric=0.55, champion_metric=0.80, labelled=60, metric_se=0.08)
    assert step(PLAN, state, noisy, T0 + timedelta(seconds=80))[1].outcome == "hold"
    decision = step(PLAN, state, sure, T0 + timedelta(seconds=80))[1]
    assert decision.outcome == "rollback"
    assert "lower bound +0.0639" in decision.reason
