"""The demo's model server on a real socket: uvicorn on a free loopback port, in a thread of this process.

The server shares the demo's simulated clock (it stamps predictions and feedback with it), so it must live in
this process; uvicorn only installs its signal handlers on the main thread, so a worker thread is safe.
Requests go over HTTP with httpx, as any client's would.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

import httpx

from ctml.clock import WallClock
from ctml.errors import BackendUnavailableError, MissingExtraError
from ctml.serve import ModelServer
from ctml.types import JSON

__all__ = ["HttpServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class HttpServer:
    """``with HttpServer(server) as http:`` serves ``server.app`` at ``http.url`` until the block ends."""

    def __init__(self, server: ModelServer, *, port: int | None = None, ready_s: float = 30.0) -> None:
        try:
            import uvicorn
        except ImportError as exc:  # pragma: no cover - the serve extra brings it
            raise MissingExtraError("serve", "ctml demo", "uvicorn") from exc
        self.server = server
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(server.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=10)  # fmt: skip
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="ctml-demo-server", daemon=True)
        self._ready_s = ready_s
        self.client = httpx.Client(base_url=self.url, timeout=60.0)

    def __enter__(self) -> HttpServer:
        self._thread.start()
        wall = WallClock()
        deadline = wall.monotonic() + self._ready_s
        while wall.monotonic() < deadline:
            if not self._thread.is_alive():
                break
            try:
                if self.client.get("/readyz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            wall.sleep(0.05)
        self.close()
        raise BackendUnavailableError(f"The demo's model server at {self.url} did not become ready within "
                                      f"{self._ready_s:.0f} s.")  # fmt: skip

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _serve(self) -> None:
        # OpenMP thread counts are per thread: without this, every tree of a small prediction would start a
        # parallel region competing with the training on the main thread, and each request would take ~50 ms.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            self._uvicorn.run()

    def post(self, path: str, payload: JSON) -> tuple[int, Any]:
        """POST ``payload`` as JSON; ``(status, decoded body)``."""
        response = self.client.post(path, json=payload)
        return response.status_code, response.json() if response.content else None

    def close(self) -> None:
        """Stop uvicorn (the lifespan's end flushes the prediction log) and wait for its thread."""
        self.client.close()
        self._uvicorn.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=30)
