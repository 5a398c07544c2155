"""``ctml demo``: continuous training on a real drifting stream (Elec2), end to end, on embedded defaults.

>>> from ctml.config import Settings
>>> from ctml.demo import DemoConfig, run_demo
>>> result = run_demo(Settings.local(tmp_home), DemoConfig(windows=3, window_rows=1000))  # doctest: +SKIP
>>> result.comparison.retrained_accuracy - result.comparison.static_accuracy  # doctest: +SKIP

:func:`run_demo` only computes and records; printing is the CLI's job (``ctml.cli._demo``).
"""

from ctml.demo._gate import GateResult, compare, mcnemar_exact
from ctml.demo._result import MODELS, DemoConfig, DemoResult, LineageDataset, StaticVsRetrained, WindowResult
from ctml.demo._run import ALIAS, APP, DATASET, MODEL, OnWindow, run_demo, window_count

__all__ = [
    "ALIAS",
    "APP",
    "DATASET",
    "MODEL",
    "MODELS",
    "DemoConfig",
    "DemoResult",
    "GateResult",
    "LineageDataset",
    "OnWindow",
    "StaticVsRetrained",
    "WindowResult",
    "compare",
    "mcnemar_exact",
    "run_demo",
    "window_count",
]
