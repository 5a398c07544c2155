"""The Ray executor against a real local cluster: a head and a worker node on loopback, started here."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctml.exec import RayExecutor, open_executor
from ctml.meta import open_meta
from ctml.store import open_store
from ctml.testing.executors import EXECUTOR_CHECKS, ExecutorFactory

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    # --block keeps each node in a process of ours, in a session of its own, so teardown stops exactly it.
    return subprocess.Popen(
        [RAY, "start", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_port(port: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"the Ray head did not listen on port {port} within {limit_s} s")


def _ports() -> list[str]:
    names = ["ray-client-server-port", "dashboard-agent-listen-port", "metrics-export-port", "runtime-env-agent-port"]
    return [f"--{name}={_free_port()}" for name in names]


def _stop(node: subprocess.Popen[bytes]) -> None:
    """Stop a node: its process group (the node's raylet, stores and workers) gets SIGTERM, then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(node.pid, sig)
        except ProcessLookupError:
            return
        try:
            node.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # The node's own process is gone; make sure nothing it started lingers in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            return


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ctml-ray-", dir="/tmp")  # short: Ray's unix socket paths have a length limit
    nodes = [_start(["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}", *_ports()])]
    try:
        _wait_port(port, 90)
        nodes.append(_start([f"--address=127.0.0.1:{port}", *_ports()]))
        address = f"127.0.0.1:{port}"
        path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        ray.init(address=address, runtime_env={"env_vars": {"PYTHONPATH": path}}, log_to_driver=False)
        deadline = time.monotonic() + 90
        while sum(node["Alive"] for node in ray.nodes()) < 2:
            assert time.monotonic() < deadline, "the worker node did not join the cluster"
            time.sleep(0.3)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for node in reversed(nodes):
            _stop(node)
        shutil.rmtree(temp, ignore_errors=True)


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
