"""``ctml demo``: the whole continuous-training loop on a real drifting stream, end to end, on embedded defaults.

Two years of hourly bike rentals (UCI Bike Sharing, CC BY 4.0, shipped with ctml) are replayed in simulated
time through the product itself: a :class:`ctml.App`, its :class:`ctml.controller.Controller`, a
:class:`ctml.serve.ModelServer` on a loopback port answering every hour over HTTP, the monitor, the retraining
policy, the gate and the roll-out.

>>> from ctml.config import Settings
>>> from ctml.demo import DemoConfig, run_demo
>>> result = run_demo(Settings.local(tmp_home), DemoConfig.quick())  # doctest: +SKIP
>>> result.static_mae - result.live_mae  # doctest: +SKIP

:func:`run_demo` computes, records and reports events; printing them is the CLI's job (``ctml.cli._demo``).
"""

from ctml.demo._app import DemoConfig, demo_app
from ctml.demo._data import FEATURES, SHA256, SOURCE_PATH, STREAM_ROWS, load_stream
from ctml.demo._events import KINDS, DemoEvent
from ctml.demo._result import DemoResult
from ctml.demo._run import APP, OnEvent, run_demo, window_count

__all__ = [
    "APP",
    "FEATURES",
    "KINDS",
    "SHA256",
    "SOURCE_PATH",
    "STREAM_ROWS",
    "DemoConfig",
    "DemoEvent",
    "DemoResult",
    "OnEvent",
    "demo_app",
    "load_stream",
    "run_demo",
    "window_count",
]
