"""Streaming detectors fire where River's do (with the river extra), and take validated parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from ctml.drift import ADWIN, DDM, PageHinkley
from ctml.errors import ConfigError


def _streams() -> list[np.ndarray]:
    rng = np.random.default_rng(2024)
    return [
        np.concatenate((rng.normal(0, 1, 700), rng.normal(0.8, 1, 700), rng.normal(-0.5, 2, 600))),
        (rng.random(3000) < np.repeat([0.1, 0.35, 0.15], 1000)).astype(float),
        np.concatenate((rng.integers(0, 2, 1000), rng.integers(4, 8, 1000))).astype(float),
        rng.normal(0, 1, 1500),
    ]


def _fired(detector: Any, stream: np.ndarray, cast: Callable[[float], Any] = float) -> list[int]:
    found = []
    for i, x in enumerate(stream):
        detector.update(cast(x))
        if detector.drift_detected:
            found.append(i)
    return found


@pytest.mark.parametrize("params", [{}, {"delta": 0.01, "clock": 1}, {"delta": 0.1, "clock": 4, "max_buckets": 3}])
def test_adwin_fires_where_river_does(params: dict[str, Any]) -> None:
    river = pytest.importorskip("river.drift")
    for stream in _streams():
        assert _fired(ADWIN(**params), stream) == _fired(river.ADWIN(**params), stream)


@pytest.mark.parametrize(
    "params", [{}, {"threshold": 10.0}, {"threshold": 5.0, "mode": "up", "delta": 0.01}, {"mode": "down"}]
)
def test_page_hinkley_fires_where_river_does(params: dict[str, Any]) -> None:
    river = pytest.importorskip("river.drift")
    for stream in _streams():
        assert _fired(PageHinkley(**params), stream) == _fired(river.PageHinkley(**params), stream)


@pytest.mark.parametrize("params", [{}, {"warm_start": 10, "drift_threshold": 2.5}])
def test_ddm_fires_where_river_does(params: dict[str, Any]) -> None:
    river = pytest.importorskip("river.drift.binary")
    for stream in _streams()[1:3]:
        binary = (stream > 0.5).astype(float)
        assert _fired(DDM(**params), binary, bool) == _fired(river.DDM(**params), binary, bool)


def test_detectors_find_an_abrupt_change_and_start_afresh() -> None:
    stream = _streams()[0]
    for detector in (ADWIN(), PageHinkley(threshold=20.0), DDM()):
        if isinstance(detector, DDM):
            fired = _fired(detector, (stream > 0.5).astype(float), bool)
        else:
            fired = _fired(detector, stream)
        assert any(700 <= i < 900 for i in fired), type(detector).__name__


def test_no_drift_on_a_stationary_stream() -> None:
    assert _fired(ADWIN(), _streams()[3]) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ADWIN(delta=2.0), "'delta' parameter of ADWIN"),
        (lambda: ADWIN(clock=0), "'clock' and 'max_buckets'"),
        (lambda: PageHinkley(mode="sideways"), "'mode' parameter of PageHinkley"),  # type: ignore[arg-type]
        (lambda: PageHinkley(threshold=0), "'threshold' parameter of PageHinkley"),
        (lambda: DDM(warning_threshold=4.0, drift_threshold=3.0), "'warning_threshold'"),
    ],
)
def test_bad_parameters_are_rejected(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_adwin_survives_a_running_variance_rounded_below_zero() -> None:
    # seen in a backtest of a regression stream: the running variance, a sum of many corrections, ended at
    # -1e-13 and the cut's square root raised "math domain error" in the monitor
    detector = ADWIN()
    for _ in range(64):
        detector.update(3.0)
    detector.variance_ = -1e-13
    assert detector._cuts(32.0, 32.0, 0.0) is False
    assert not detector.update(3.0).drift_detected
