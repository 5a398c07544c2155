"""Pipelines the tests run in worker and crash-test processes, so their steps are importable by name.

``CTML_TEST_KILL_IN=LABEL`` makes the step (or partition) of that label SIGKILL its own process half-way;
``main`` with ``CTML_TEST_KILL_AFTER=LABEL`` SIGKILLs the process right after that label finished.
"""

from __future__ import annotations

import os
import signal
import sys

from ctml.clock import WallClock
from ctml.meta import open_meta
from ctml.pipeline import Pipeline, StepEvent, step
from ctml.store import open_store

__all__ = ["CRASHY", "FRAGILE", "SLOW", "main"]


def _maybe_die(label: str) -> None:
    if os.environ.get("CTML_TEST_KILL_IN") == label:
        os.kill(os.getpid(), signal.SIGKILL)


@step
def source(size: int = 4) -> dict[str, list[int]]:
    _maybe_die("source")
    return {f"p{i}": list(range(i, i + size)) for i in range(3)}


@step
def fit(source: list[int], scale: int = 2) -> int:
    _maybe_die(f"fit[p{source[0]}]")
    return sum(source) * scale


@step
def report(fit: dict[str, int], seed: int) -> str:
    _maybe_die("report")
    return ",".join(f"{k}={v}" for k, v in sorted(fit.items())) + f";seed={seed}"


CRASHY = Pipeline([source, fit.map(over="source"), report], name="crashy")


@step(timeout=0.5)
def slow() -> int:
    WallClock().sleep(30)
    return 1


SLOW = Pipeline([slow], name="slow")


def main() -> None:
    """Run CRASHY on the workspace under ``sys.argv[1]`` (SQLite file and artifact folder)."""
    home = sys.argv[1]
    kill_after = os.environ.get("CTML_TEST_KILL_AFTER")

    def observe(event: StepEvent) -> None:
        if event.kind == "finished" and event.step == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    meta = open_meta(f"sqlite:///{home}/meta.db")
    CRASHY.run(meta, open_store(f"{home}/artifacts"), seed=7, observer=observe)
    meta.close()


@step(retries=1)
def fragile(marker: str) -> str:
    """SIGKILLs its own worker process the first time, as an out-of-memory kill or a preemption would."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


FRAGILE = Pipeline([fragile], name="fragile", params={"marker": ...})
