"""A local Ray cluster on loopback: a head and worker nodes started with ``ray start``, stopped on exit.

For tests, benchmarks and a laptop: every node is started with ``--node-ip-address=127.0.0.1`` and the head's
GCS on a free port, never Ray's default 6379 (which is Redis's). Each node runs ``ray start --block`` in a
process group of its own, so stopping the cluster stops exactly its processes (raylet, object store, workers).

Ray itself turns ``127.0.0.1`` into the machine's routable address when the machine has one, and its GCS and
raylets listen on every interface; only a network namespace with nothing but loopback keeps a cluster truly
local (``make test`` runs the Ray tests in one, see :func:`loopback_only`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from ctml.clock import Clock, WallClock
from ctml.errors import BackendUnavailableError, ConfigError, MissingExtraError

__all__ = ["LocalRayCluster", "loopback_only"]

_START_LIMIT_S = 90.0


def loopback_only() -> bool:
    """Whether this process sees no network interface but loopback (a namespace made with ``unshare --net``)."""
    return all(name == "lo" for _, name in socket.if_nameindex())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _ray_command() -> str:
    beside = Path(sys.executable).with_name("ray")
    found = str(beside) if beside.exists() else shutil.which("ray")
    if found is None:
        raise MissingExtraError("ray", "A local Ray cluster", "ray")
    return found


class LocalRayCluster:
    """``with LocalRayCluster(nodes=2) as address:`` a head plus ``nodes - 1`` workers, each ``cpus_per_node`` CPUs.

    ``address`` is ``127.0.0.1:PORT``, for :class:`~ctml.exec.RayExecutor` or ``ray://127.0.0.1:PORT``.
    """

    def __init__(self, *, nodes: int = 1, cpus_per_node: int = 1, clock: Clock | None = None) -> None:
        if nodes < 1 or cpus_per_node < 1:
            raise ConfigError(
                f"A local Ray cluster needs nodes >= 1 and cpus_per_node >= 1. Got {nodes} and {cpus_per_node}."
            )
        self.nodes = nodes
        self.cpus_per_node = cpus_per_node
        self.port = _free_port()
        self._clock = clock or WallClock()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._temp = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        self.start()
        return self.address

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        ray = _ray_command()
        self._temp = tempfile.mkdtemp(prefix="ctml-ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
        head = ["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self._temp}"]
        try:
            self._processes.append(self._spawn(ray, head))
            self._wait_for_port()
            for _ in range(self.nodes - 1):
                self._processes.append(self._spawn(ray, [f"--address={self.address}"]))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in reversed(self._processes):
            _stop(process)
        self._processes = []
        if self._temp:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = ""

    def _spawn(self, ray: str, args: list[str]) -> subprocess.Popen[bytes]:
        ports = ["ray-client-server-port", "dashboard-agent-listen-port", "metrics-export-port"]
        ports.append("runtime-env-agent-port")
        command = [
            ray,
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.cpus_per_node}",
            "--disable-usage-stats",
            *args,
            *(f"--{name}={_free_port()}" for name in ports),
        ]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def _wait_for_port(self) -> None:
        deadline = self._clock.monotonic() + _START_LIMIT_S
        while self._clock.monotonic() < deadline:
            if self._processes[0].poll() is not None:
                status = self._processes[0].returncode
                raise BackendUnavailableError(f"The Ray head exited with status {status} while starting.")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            self._clock.sleep(0.2)
        raise BackendUnavailableError(
            f"The Ray head did not listen on 127.0.0.1:{self.port} within {_START_LIMIT_S:.0f} s."
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the node's process group, then SIGKILL to whatever of it is left."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
            if sig == signal.SIGTERM:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            return
