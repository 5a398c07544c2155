"""The inline executor: runs each call at once in the caller's thread. Deterministic and overhead-free."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from ctml.exec._base import MapBySubmit, check_resources, check_timeout

__all__ = ["InlineExecutor"]

T = TypeVar("T")


class InlineExecutor(MapBySubmit):
    """Runs ``fn(*args)`` during :meth:`submit`; the returned future is already done.

    Timeouts are not enforced (nothing can stop a call in the caller's own thread); they are accepted so that
    the same pipeline runs unchanged here and on executors that do enforce them.

    >>> executor = InlineExecutor()
    >>> [f.result() for f in executor.map(abs, [-2, 3])]
    [2, 3]
    """

    url = "inline"
    enforces_timeouts = False

    def __repr__(self) -> str:
        return "InlineExecutor()"

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> Future[T]:
        check_timeout(timeout)
        check_resources(resources)
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # the caller gets it from result(), as from any executor
            if not isinstance(exc, Exception):
                raise
            future.set_exception(exc)
        return future

    def shutdown(self) -> None:
        return None
