"""Executors (L1 port): where a pipeline's steps run — inline, a local process pool, or a cluster.

Pick one by URI with :func:`open_executor` (``inline``, ``process://?workers=N``, ``ray://HOST:PORT``);
every executor satisfies :class:`Executor` and passes the conformance suite in :mod:`ctml.testing.executors`.

>>> executor = open_executor("inline")
>>> executor.submit(divmod, 7, 2).result()
(3, 1)
"""

from ctml.exec._base import Executor, TaskTimeoutError
from ctml.exec._inline import InlineExecutor
from ctml.exec._open import open_executor
from ctml.exec._process import ProcessExecutor
from ctml.exec._ray import RayExecutor
from ctml.exec._ray_cluster import LocalRayCluster, loopback_only

__all__ = [
    "Executor",
    "InlineExecutor",
    "LocalRayCluster",
    "ProcessExecutor",
    "RayExecutor",
    "TaskTimeoutError",
    "loopback_only",
    "open_executor",
]
