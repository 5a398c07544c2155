"""Benchmarks (L3): ctml against the tool it replaces, on the same workload, in the same process.

Each benchmark is a pure measurement that returns a result record; the CLI (``ctml bench ...``) renders it.
"""

from ctml.bench.tracking import (
    GOALS,
    INSTALL_HINT,
    TARGETS,
    RowCounts,
    ToolTiming,
    TrackingResult,
    Workload,
    bench_tracking,
)

__all__ = [
    "GOALS",
    "INSTALL_HINT",
    "TARGETS",
    "RowCounts",
    "ToolTiming",
    "TrackingResult",
    "Workload",
    "bench_tracking",
]
