"""``ctml backtest``: replay a historical stream in simulated time through the production loop, beside baselines.

ctml's policy goes through the very same code as production (controller, model server, prediction log,
monitor, triggers, gate, roll-out) under a :class:`ctml.clock.SimulatedClock`; the baselines (train once,
periodic, always, River's ARF) fit and predict directly, on the same rows and the same scoring.
"""

from ctml.backtest._html import render_backtest_html
from ctml.backtest._result import BacktestResult, Marker, PolicyResult
from ctml.backtest._run import DEFAULT_POLICIES, POLICIES, BacktestConfig, default_app, run_backtest
from ctml.backtest._stream import Stream, load_stream

__all__ = [
    "DEFAULT_POLICIES",
    "POLICIES",
    "BacktestConfig",
    "BacktestResult",
    "Marker",
    "PolicyResult",
    "Stream",
    "default_app",
    "load_stream",
    "render_backtest_html",
    "run_backtest",
]
