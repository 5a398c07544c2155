"""The process executor: a local pool of worker processes started with ``spawn``.

``spawn`` (not ``fork``) because a forked child inherits the parent's threads, locks and open database
connections mid-use; a spawned one imports what it needs. So a submitted function must be importable by
name — defined at module level, not a lambda or a nested function — and its arguments picklable.

Each worker's native thread pools (BLAS, OpenMP) are limited to its share of the CPUs, as Ray does for its
workers: two workers each starting one BLAS thread per CPU would fight over the cores and run slower than
one process alone.

A call with a timeout runs in a one-worker pool of its own, warmed up before the clock starts, so that the
worker can be killed when the timeout passes without disturbing other calls.
"""

from __future__ import annotations

import inspect
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ctml.errors import ConfigError
from ctml.exec._base import MapBySubmit, TaskTimeoutError, check_resources, check_timeout

__all__ = ["ProcessExecutor"]

T = TypeVar("T")


class ProcessExecutor(MapBySubmit):
    """Runs calls on ``workers`` spawned processes (default: one per CPU), started on the first call.

    >>> with ProcessExecutor(workers=1) as executor:
    ...     executor.submit(pow, 2, 10).result()
    1024
    """

    enforces_timeouts = True

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
            raise ConfigError(f"The 'workers' parameter of ProcessExecutor must be an int >= 1. Got {workers!r}.")
        self.workers = workers or os.cpu_count() or 1
        self._threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._context = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._timed: set[ProcessPoolExecutor] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"process://?workers={self.workers}"

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers})"

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> Future[T]:
        check_timeout(timeout)
        check_resources(resources)
        _require_importable(fn)
        if timeout is not None:
            return self._submit_timed(fn, args, timeout)
        try:
            return self._shared().submit(fn, *args)
        except BrokenProcessPool:
            # A worker died (killed, out of memory); the pool refuses all work from then on. Start a new one.
            with self._lock:
                self._pool = None
            return self._shared().submit(fn, *args)

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            timed, self._timed = self._timed, set()
        for one in timed:
            _kill(one)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _shared(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=self._context,
                    initializer=limit_threads,
                    initargs=(self._threads,),
                )
            return self._pool

    def _submit_timed(self, fn: Callable[..., T], args: tuple[Any, ...], timeout: float) -> Future[T]:
        outer: Future[T] = Future()
        outer.set_running_or_notify_cancel()
        pool = ProcessPoolExecutor(
            max_workers=1, mp_context=self._context, initializer=limit_threads, initargs=(self._threads,)
        )
        with self._lock:
            self._timed.add(pool)

        def watch() -> None:
            try:
                pool.submit(int).result()  # start the worker first: spawning is not the call's time
                inner = pool.submit(fn, *args)
                try:
                    outer.set_result(inner.result(timeout=timeout))
                except FutureTimeout:
                    _kill(pool)
                    outer.set_exception(TaskTimeoutError(f"{_name(fn)}{args!r}"[:200], timeout))
                except Exception as exc:
                    outer.set_exception(exc)
            except Exception as exc:  # the pool itself failed to start or broke
                outer.set_exception(exc)
            finally:
                with self._lock:
                    self._timed.discard(pool)
                pool.shutdown(wait=False, cancel_futures=True)

        threading.Thread(target=watch, name=f"ctml-timeout-{_name(fn)}", daemon=True).start()
        return outer


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def limit_threads(threads: int) -> None:
    """In a new worker: at most ``threads`` native threads per pool, for libraries loaded now and later."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings threadpoolctl; without it only the variables apply
        return
    threadpool_limits(threads)


def _kill(pool: ProcessPoolExecutor) -> None:
    # concurrent.futures has no public way to stop a running call before Python 3.14 (kill_workers);
    # until then the worker processes are reached through the pool's private table.
    kill = getattr(pool, "kill_workers", None)
    if callable(kill):
        kill()
    else:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _require_importable(fn: Callable[..., Any]) -> None:
    qualname = getattr(fn, "__qualname__", "")
    problem = None
    if "<lambda>" in qualname or "<locals>" in qualname:
        problem = "it is a lambda or is defined inside another function"
    else:
        try:
            pickle.dumps(fn)
        except Exception as exc:
            problem = f"it cannot be pickled ({exc})"
    if problem is None:
        return
    where = ""
    try:
        code = inspect.unwrap(fn).__code__
        where = f" at {code.co_filename}:{code.co_firstlineno}"
    except AttributeError:
        pass
    raise ConfigError(
        f"{qualname or fn!r}{where} cannot run on a process pool: {problem}. Worker processes import functions "
        "by name, so define it at the top level of an importable module (or use the inline executor)."
    )
