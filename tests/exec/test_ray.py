"""The Ray executor against a real local cluster: a head and a worker node on loopback, started here."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctml.exec import LocalRayCluster, RayExecutor, loopback_only, open_executor
from ctml.meta import open_meta
from ctml.store import open_store
from ctml.testing.executors import EXECUTOR_CHECKS, ExecutorFactory

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

if not loopback_only():
    # Ray listens on every interface whatever --node-ip-address says; only a loopback-only namespace keeps it in.
    why = "the Ray tests run in a network namespace with loopback only: `make test` starts one (unshare --net)"
    if os.environ.get("CTML_REQUIRE_RAY"):
        pytest.fail(why, pytrace=False)
    pytest.skip(why, allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with LocalRayCluster(nodes=2, cpus_per_node=1) as address:
        path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        ray.init(address=address, runtime_env={"env_vars": {"PYTHONPATH": path}}, log_to_driver=False)
        try:
            deadline = time.monotonic() + 90
            while sum(node["Alive"] for node in ray.nodes()) < 2:
                assert time.monotonic() < deadline, "the worker node did not join the cluster"
                time.sleep(0.3)
            assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
            yield address
        finally:
            ray.shutdown()


@pytest.mark.parametrize("check", EXECUTOR_CHECKS, ids=lambda check: check.__name__)
def test_conformance(cluster: str, check: Callable[[ExecutorFactory], None]) -> None:
    check(lambda: RayExecutor(cluster))


def assigned_cpus() -> float:
    return float(ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0))


def node_of_task() -> str:
    time.sleep(0.5)
    return str(ray.get_runtime_context().get_node_id())


def test_resources_pass_through_and_both_nodes_work(cluster: str) -> None:
    executor = open_executor(f"ray://{cluster}")
    assert isinstance(executor, RayExecutor)
    assert executor.submit(assigned_cpus, resources={"cpus": 0.5}).result(timeout=60) == 0.5
    nodes = {f.result(timeout=60) for f in executor.map(lambda _: node_of_task(), range(4), resources={"cpus": 1})}
    assert len(nodes) == 2, "tasks needing a whole CPU each spread over both one-CPU nodes"
    executor.shutdown()


def test_the_same_pipeline_runs_unchanged_on_ray(cluster: str, tmp_path: Path) -> None:
    from pipeline._flows import CRASHY

    with open_meta(f"sqlite:///{tmp_path}/a.db") as meta:
        inline = CRASHY.run(meta, open_store(str(tmp_path / "a")), params={"size": 6})
    with open_meta(f"sqlite:///{tmp_path}/b.db") as meta:
        remote = CRASHY.run(meta, open_store(str(tmp_path / "b")), params={"size": 6}, executor=RayExecutor(cluster))
        assert {s.status for s in meta.steps.list(remote.run_id)} == {"finished"}
    assert remote.outputs == inline.outputs
