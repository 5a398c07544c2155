"""The load generator of ``ctml bench serve``, run as its own process: raw HTTP/1.1 keep-alive over asyncio.

``python -m ctml.bench._serve_load HOST PORT PATH BODY_FILE CONNECTIONS SECONDS WARMUP`` prints one JSON
object: requests, errors, seconds, rps, p50_ms, p99_ms. Each connection sends one request at a time (closed
loop) with pre-built bytes and reads the response by its Content-Length (or chunks), so the generator costs
the same few microseconds per request whichever server it measures.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import numpy as np


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"content-length:")
    if at >= 0:
        end = lower.find(b"\r\n", at)
        await reader.readexactly(int(lower[at + 15 : end]))
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _connection(
    host: str, port: int, request: bytes, start: float, stop: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter
    try:
        while True:
            began = clock()
            if began >= stop:
                return
            writer.write(request)
            status = await _read_response(reader)
            if began >= start:
                latencies.append(clock() - began)
                if status != 200:
                    errors.append(status)
    finally:
        writer.close()


async def _main(host: str, port: int, path: str, body: bytes, connections: int, seconds: float, warmup: float) -> None:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    now = time.perf_counter()
    start, stop = now + warmup, now + warmup + seconds
    latencies: list[float] = []
    errors: list[int] = []
    await asyncio.gather(
        *(_connection(host, port, request, start, stop, latencies, errors) for _ in range(connections))
    )
    lat = np.asarray(latencies) * 1000.0
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": len(errors),
                "seconds": seconds,
                "rps": len(latencies) / seconds,
                "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
                "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
            }
        )
    )


if __name__ == "__main__":
    host, port, path, body_file, connections, seconds, warmup = sys.argv[1:8]
    with open(body_file, "rb") as f:
        payload = f.read()
    asyncio.run(_main(host, int(port), path, payload, int(connections), float(seconds), float(warmup)))
