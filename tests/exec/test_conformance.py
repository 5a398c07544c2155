"""The executor conformance suite over every executor this install can run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ctml.exec import Executor, InlineExecutor, ProcessExecutor
from ctml.testing.executors import EXECUTOR_CHECKS, ExecutorFactory

FACTORIES: dict[str, ExecutorFactory] = {"inline": InlineExecutor, "process": lambda: ProcessExecutor(workers=2)}


@pytest.mark.parametrize("check", EXECUTOR_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_conformance(kind: str, check: Callable[[ExecutorFactory], None]) -> None:
    check(FACTORIES[kind])


def test_a_broken_executor_fails_the_suite() -> None:
    """The suite can fail: an executor that swallows exceptions is caught."""

    class Swallowing(InlineExecutor):
        def submit(self, fn, *args, timeout=None, resources=None):  # type: ignore[no-untyped-def]
            return super().submit(lambda *a: None, *args, timeout=timeout, resources=resources)

    broken: Executor = Swallowing()
    with pytest.raises(AssertionError, match="should raise CheckError"):
        EXECUTOR_CHECKS[1](lambda: broken)
