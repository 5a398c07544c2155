"""Fixtures for the store tests: a real S3-compatible server (moto in server mode) on 127.0.0.1.

The S3 backend is tested over HTTP against a running server, not with boto mocks, so that retries, multipart
uploads, ranged reads and error translation all run the code paths production runs.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

# moto accepts any credentials; passing them explicitly keeps the tests independent of ~/.aws and the env.
_CREDENTIALS: dict[str, Any] = {"key": "testing", "secret": "testing"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server running in a thread for the whole session."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint: str) -> str:
    """A bucket on the moto server; stores under it use fresh prefixes, so one per session suffices."""
    import s3fs

    name = f"ctml-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, skip_instance_cache=True, **_CREDENTIALS)
    fs.mkdir(name)
    return name


@pytest.fixture
def closed_endpoint() -> str:
    """An http endpoint on 127.0.0.1 where connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def s3_credentials() -> dict[str, Any]:
    """Options that authenticate against moto, for stores whose endpoint a test chooses itself."""
    return dict(_CREDENTIALS)


@pytest.fixture
def s3_options(s3_endpoint: str, s3_credentials: dict[str, Any]) -> dict[str, Any]:
    """Options that open a store on the session's moto server."""
    return {"endpoint_url": s3_endpoint, **s3_credentials}
