"""Per-route, per-version measurements for the roll-out guards."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ctml.monitor import route_stats, stage_stats
from ctml.rollout import StageStats

from .conftest import APP, T0, Env

HOUR = timedelta(hours=1)


def test_route_stats_counts_errors_latency_and_the_live_metric(env: Env) -> None:
    rows = [{"x": float(i)} for i in range(10)]
    ids = env.log(rows, ["UP"] * 10, T0, route="canary", version=2, latency_ms=5.0, batch=5)  # two requests
    env.log(rows[:4], ["UP"] * 4, T0 + timedelta(minutes=1), route="canary", version=2, latency_ms=50.0, batch=1)
    env.log(rows[:3], [None] * 3, T0 + timedelta(minutes=2), route="canary", version=2, error="boom", batch=3)
    env.log(rows, ["DOWN"] * 10, T0, route="champion", version=1)  # not the canary's
    env.label(ids[:8], ["UP"] * 6 + ["DOWN"] * 2)
    stats = route_stats(env.meta, APP, 2, T0, T0 + HOUR, route="canary")
    assert (stats.requests, stats.errors, stats.labelled) == (17, 3, 8)
    assert stats.error_rate == pytest.approx(3 / 17)
    assert stats.live_metric == pytest.approx(6 / 8)
    assert stats.metric == "accuracy"
    # 7 requests: 2 x 5 ms, 4 x 50 ms, 1 failed at 2 ms
    assert stats.p99_ms == pytest.approx(50.0)
    assert route_stats(env.meta, APP, 2, T0 + HOUR, T0 + 2 * HOUR).requests == 0


def test_stage_stats_compares_the_candidate_with_the_champion(env: Env) -> None:
    rows = [{"x": float(i)} for i in range(100)]
    champion = env.log(rows, ["UP", "DOWN"] * 50, T0, route="champion", version=1)
    canary = env.log(rows, ["UP"] * 100, T0, route="canary", version=2)
    env.label(champion, ["UP", "DOWN"] * 50)
    env.label(canary, ["UP", "DOWN"] * 50)
    stats = stage_stats(env.meta, APP, 2, 1, T0, T0 + HOUR, candidate_route="canary")
    assert isinstance(stats, StageStats)
    assert (stats.requests, stats.errors, stats.labelled) == (100, 0, 100)
    assert (stats.candidate_metric, stats.champion_metric) == (0.5, 1.0)
    assert stats.prediction_drift is not None
    assert stats.prediction_drift > 0.3
