"""The Ray executor: calls run as Ray tasks on a cluster, with resource requests passed through.

Opened by ``ray://HOST:PORT`` (the cluster's GCS address, as ``ray start --head --port PORT`` prints it) or
``ray://auto`` (the cluster this machine belongs to). Ray is imported here only, when such a URI is chosen.

Workers import a submitted function by name, like the process pool's. By default the driver's ``sys.path``
is passed to them (``PYTHONPATH`` in the job's runtime environment), which suits clusters whose nodes share
the file system; pass ``runtime_env`` to ship code otherwise (Ray's ``working_dir`` or ``py_modules``).

One dispatcher thread waits on all pending tasks, so a 1,000-way fan-out needs no thread per task; a task
past its timeout is cancelled (its worker is killed) and fails with :class:`TaskTimeoutError`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from ctml.clock import Clock, WallClock
from ctml.errors import MissingExtraError
from ctml.exec._base import MapBySubmit, TaskTimeoutError, check_resources, check_timeout

__all__ = ["RayExecutor"]

T = TypeVar("T")
_POLL_S = 0.05


def _call(fn: Callable[..., T], *args: Any) -> T:
    """The one Ray remote function: registered once, it calls whatever was submitted (builtins included)."""
    return fn(*args)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingExtraError("ray", "The Ray executor", "ray") from None
    return ray


class RayExecutor(MapBySubmit):
    """Runs calls as tasks on the Ray cluster at ``address``, connecting on the first call."""

    enforces_timeouts = True

    def __init__(self, address: str = "auto", *, runtime_env: Mapping[str, Any] | None = None) -> None:
        self.address = address
        self._ray = _import_ray()
        path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        self.runtime_env = dict(runtime_env) if runtime_env is not None else {"env_vars": {"PYTHONPATH": path}}
        self._clock: Clock = WallClock()
        self._pending: dict[Any, tuple[Future[Any], float | None, float | None, str]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._owns_connection = False
        self._remote: Any = None

    @property
    def url(self) -> str:
        return f"ray://{self.address}"

    def __repr__(self) -> str:
        return f"RayExecutor({self.address!r})"

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> Future[T]:
        check_timeout(timeout)
        wanted = check_resources(resources)
        self._connect()
        options: dict[str, Any] = {"max_retries": 0}
        if "cpus" in wanted:
            options["num_cpus"] = wanted["cpus"]
        if "gpus" in wanted:
            options["num_gpus"] = wanted["gpus"]
        if "memory" in wanted:
            options["memory"] = wanted["memory"]
        ref = self._remote.options(**options).remote(fn, *args)
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        deadline = None if timeout is None else self._clock.monotonic() + timeout
        with self._lock:
            self._pending[ref] = (future, deadline, timeout, getattr(fn, "__qualname__", repr(fn)))
        self._wake.set()
        return future

    def shutdown(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._closed = True
        self._wake.set()
        for ref, (future, _, _, _) in pending.items():
            self._ray.cancel(ref, force=True)
            if not future.done():
                future.set_exception(RuntimeError("the Ray executor was shut down before this task finished"))
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._owns_connection and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_connection = False
        self._closed = False

    def _connect(self) -> None:
        # A connection this executor opened is closed by its shutdown; one the caller opened is left alone.
        if not self._ray.is_initialized():
            self._ray.init(
                address=self.address, runtime_env=self.runtime_env, log_to_driver=False, logging_level=logging.WARNING
            )
            self._owns_connection = True
        if self._remote is None:
            self._remote = self._ray.remote(_call)
        if self._thread is None:
            self._thread = threading.Thread(target=self._dispatch, name="ctml-ray-dispatch", daemon=True)
            self._thread.start()

    def _dispatch(self) -> None:
        ray = self._ray
        while True:
            with self._lock:
                if self._closed:
                    return
                refs = list(self._pending)
            if not refs:
                self._wake.wait(_POLL_S)
                self._wake.clear()
                continue
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=_POLL_S)
            for ref in ready:
                self._settle(ref)
            now = self._clock.monotonic()
            with self._lock:
                expired = [(r, entry) for r, entry in self._pending.items() if entry[1] is not None and entry[1] < now]
                for ref, _ in expired:
                    del self._pending[ref]
            for ref, (future, _, timeout, name) in expired:
                ray.cancel(ref, force=True)
                future.set_exception(TaskTimeoutError(f"Ray task {name}", timeout or 0.0))

    def _settle(self, ref: Any) -> None:
        with self._lock:
            entry = self._pending.pop(ref, None)
        if entry is None:
            return
        future = entry[0]
        try:
            future.set_result(self._ray.get(ref))
        except self._ray.exceptions.RayTaskError as exc:
            # Give the caller the task's own exception, as the other executors do, not Ray's wrapper.
            cause = getattr(exc, "cause", None)
            future.set_exception(cause if isinstance(cause, Exception) else exc)
        except Exception as exc:
            future.set_exception(exc)
