"""Run a :class:`ModelServer` under uvicorn, with SIGHUP as "re-read aliases and route tables now"."""

from __future__ import annotations

import signal
from typing import Any

from ctml.errors import MissingExtraError
from ctml.serve._server import ModelServer

__all__ = ["run_server"]


def run_server(server: ModelServer, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Serve until SIGINT/SIGTERM; on the way out, the prediction log is flushed (the ASGI lifespan's end)."""
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - the serve extra brings it
        raise MissingExtraError("serve", "ctml serve", "uvicorn") from exc
    config = uvicorn.Config(
        server.app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    if hasattr(signal, "SIGHUP"):

        def reload(signum: int, frame: Any) -> None:
            server.watcher.trigger()

        signal.signal(signal.SIGHUP, reload)
    uvicorn.Server(config).run()
