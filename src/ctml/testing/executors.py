"""The executor conformance suite: the checks every :class:`~ctml.exec.Executor` must pass.

Each check is a plain function taking a *factory* (a callable returning a fresh executor) and raising
``AssertionError`` saying what was wrong; each check shuts down what it made. The functions the checks submit
are defined at the top of this module, so executors that run calls in other processes can import them.

Run them all with :func:`check_executor`, or one test per check with pytest::

    @pytest.mark.parametrize("check", EXECUTOR_CHECKS, ids=lambda check: check.__name__)
    def test_conformance(check):
        check(InlineExecutor)

>>> from ctml.exec import InlineExecutor
>>> check_executor(InlineExecutor)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ctml.clock import WallClock
from ctml.errors import ConfigError
from ctml.exec import Executor, TaskTimeoutError, open_executor
from ctml.testing._assertions import expect as _expect
from ctml.testing._assertions import raises as _raises

__all__ = [
    "EXECUTOR_CHECKS",
    "ExecutorFactory",
    "check_bad_options_refused",
    "check_exception_comes_back",
    "check_executor",
    "check_map_keeps_order",
    "check_resources_accepted",
    "check_shutdown_is_idempotent",
    "check_submit_returns_result",
    "check_timeout",
    "check_url_reopens",
]

ExecutorFactory = Callable[[], Executor]


class CheckError(ValueError):
    """Raised by :func:`fail` so the checks can tell it from anything else."""


def square(x: int) -> int:
    return x * x


def fail(message: str) -> None:
    raise CheckError(message)


def nap(seconds: float) -> float:
    WallClock().sleep(seconds)  # a stand-in for long work
    return seconds


@contextmanager
def _opened(factory: ExecutorFactory) -> Iterator[Executor]:
    executor = factory()
    try:
        yield executor
    finally:
        executor.shutdown()


def check_submit_returns_result(factory: ExecutorFactory) -> None:
    with _opened(factory) as executor:
        got = executor.submit(pow, 2, 10).result(timeout=60)
        _expect(got == 1024, f"submit(pow, 2, 10) should give 1024; got {got!r}")


def check_exception_comes_back(factory: ExecutorFactory) -> None:
    with _opened(factory) as executor:
        future = executor.submit(fail, "boom")
        with _raises(CheckError, "result() of a call that raised") as raised:
            future.result(timeout=60)
        _expect(str(raised.value) == "boom", f"the exception should keep its message; got {raised.value!r}")


def check_map_keeps_order(factory: ExecutorFactory) -> None:
    with _opened(factory) as executor:
        got = [f.result(timeout=60) for f in executor.map(square, range(6))]
        _expect(got == [0, 1, 4, 9, 16, 25], f"map(square, range(6)) should keep order; got {got}")
        _expect(executor.map(square, []) == [], "map over nothing should give no futures")


def check_timeout(factory: ExecutorFactory) -> None:
    """Enforcing executors stop a call past its timeout; all accept a timeout a call stays within."""
    with _opened(factory) as executor:
        got = executor.submit(square, 3, timeout=60).result(timeout=120)
        _expect(got == 9, f"a call within its timeout should succeed; got {got!r}")
        if not executor.enforces_timeouts:
            return
        future = executor.submit(nap, 60, timeout=0.5)
        with _raises(TaskTimeoutError, "a 60 s call with a 0.5 s timeout"):
            future.result(timeout=45)


def check_resources_accepted(factory: ExecutorFactory) -> None:
    with _opened(factory) as executor:
        got = executor.submit(square, 4, resources={"cpus": 1}).result(timeout=60)
        _expect(got == 16, f"a call with resources={{'cpus': 1}} should run; got {got!r}")


def check_bad_options_refused(factory: ExecutorFactory) -> None:
    with _opened(factory) as executor:
        with _raises(ConfigError, "submit with an unknown resource"):
            executor.submit(square, 1, resources={"qpus": 1})
        with _raises(ConfigError, "submit with a negative timeout"):
            executor.submit(square, 1, timeout=-1)


def check_shutdown_is_idempotent(factory: ExecutorFactory) -> None:
    executor = factory()
    executor.submit(square, 2).result(timeout=60)
    executor.shutdown()
    executor.shutdown()


def check_url_reopens(factory: ExecutorFactory) -> None:
    with _opened(factory) as executor:
        again = open_executor(executor.url)
        try:
            _expect(type(again) is type(executor), f"open_executor({executor.url!r}) gave a {type(again).__name__}")
        finally:
            again.shutdown()


EXECUTOR_CHECKS: Sequence[Callable[[ExecutorFactory], None]] = (
    check_submit_returns_result,
    check_exception_comes_back,
    check_map_keeps_order,
    check_timeout,
    check_resources_accepted,
    check_bad_options_refused,
    check_shutdown_is_idempotent,
    check_url_reopens,
)


def check_executor(factory: ExecutorFactory) -> None:
    """Run every check of :data:`EXECUTOR_CHECKS` against executors made by ``factory``."""
    for check in EXECUTOR_CHECKS:
        check(factory)
