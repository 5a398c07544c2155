"""The executor port: run a callable somewhere, now or later, and hand back a future.

An executor is three verbs. ``submit`` runs ``fn(*args)`` and returns a :class:`concurrent.futures.Future`;
``map`` submits one call per item; ``shutdown`` releases workers. Whatever ``fn`` raises comes back from
``future.result()`` as that exception. A call that outlives its ``timeout`` fails with
:class:`TaskTimeoutError` on executors whose ``enforces_timeouts`` is true; the inline executor runs in the
caller's thread and cannot stop a call, so there a timeout is the caller's (cooperative) business.

``resources`` (``{"cpus": 2, "gpus": 1, "memory": 2**30}``) is a request the executor passes to a scheduler
that understands it (Ray); local executors accept and ignore it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar, runtime_checkable

from ctml.errors import ConfigError, CtmlError

__all__ = ["Executor", "MapBySubmit", "TaskTimeoutError", "check_resources"]

T = TypeVar("T")

_RESOURCE_KEYS = ("cpus", "gpus", "memory")


class TaskTimeoutError(CtmlError, TimeoutError):
    """A submitted call ran longer than its timeout and was stopped."""

    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"{what} ran longer than its timeout of {timeout:g} s and was stopped.")
        self.timeout = timeout


@runtime_checkable
class Executor(Protocol):
    """Runs callables; see the module docstring. Every implementation passes :mod:`ctml.testing.executors`."""

    @property
    def url(self) -> str:
        """The URI that opens an executor like this one."""
        ...

    @property
    def enforces_timeouts(self) -> bool:
        """Whether a call past its timeout is stopped and fails with :class:`TaskTimeoutError`."""
        ...

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> Future[T]:
        """Run ``fn(*args)``; its result or exception comes back through the future."""
        ...

    def map(
        self,
        fn: Callable[[Any], T],
        items: Iterable[Any],
        *,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> list[Future[T]]:
        """One future per item, in the items' order."""
        ...

    def shutdown(self) -> None:
        """Release the workers; calling it again does nothing."""
        ...


class MapBySubmit:
    """``map`` as one ``submit`` per item: every executor here schedules items independently."""

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> Future[T]:
        raise NotImplementedError

    def map(
        self,
        fn: Callable[[Any], T],
        items: Iterable[Any],
        *,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> list[Future[T]]:
        return [self.submit(fn, item, timeout=timeout, resources=resources) for item in items]


def check_resources(resources: Mapping[str, float] | None) -> dict[str, float]:
    """The resource request as a plain dict, refusing keys no executor understands."""
    if resources is None:
        return {}
    unknown = sorted(set(resources) - set(_RESOURCE_KEYS))
    if unknown:
        raise ConfigError(
            f"Unknown resource {', '.join(map(repr, unknown))}. Expected some of {', '.join(_RESOURCE_KEYS)}, "
            'for example {"cpus": 2, "gpus": 1, "memory": 2**30}.'
        )
    bad = {k: v for k, v in resources.items() if not isinstance(v, int | float) or isinstance(v, bool) or v < 0}
    if bad:
        raise ConfigError(f"Resource amounts must be non-negative numbers. Got {bad}.")
    return dict(resources)


def check_timeout(timeout: float | None) -> float | None:
    if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
        raise ConfigError(f"A timeout must be a positive number of seconds or None. Got {timeout!r}.")
    return timeout
