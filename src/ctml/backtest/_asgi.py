"""Calls an ASGI app in-process, on one event loop: the backtest's client of the model server.

No sockets and no HTTP library: a request is one ASGI ``http`` scope, its body sent at once, and the response
collected from the ``send`` messages. Background tasks (a shadow's predictions) finish before the call returns.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ctml.types import JSON

__all__ = ["AsgiClient"]


class AsgiClient:
    """``post(path, payload)`` returns ``(status, decoded JSON body)``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()

    def post(self, path: str, payload: JSON) -> tuple[int, Any]:
        return self._loop.run_until_complete(self._call(path, json.dumps(payload).encode()))

    def close(self) -> None:
        self._loop.close()

    async def _call(self, path: str, body: bytes) -> tuple[int, Any]:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 0),
            "server": ("backtest", 80),
        }
        sent = False
        done = asyncio.Event()
        status = 500
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await self.app(scope, receive, send)
        done.set()
        raw = b"".join(chunks)
        return status, json.loads(raw) if raw else None
