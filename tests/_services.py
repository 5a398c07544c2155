"""One rule for tests that need a real server: skip when it is not reachable, except in CI.

``.ci/run`` starts the servers and sets ``CTML_REQUIRE_SERVICES=1``, so there a missing server fails the run
instead of silently skipping the tests that use it.
"""

from __future__ import annotations

import os

import pytest


def unreachable(message: str) -> None:
    if os.environ.get("CTML_REQUIRE_SERVICES"):
        pytest.fail(f"{message} (CTML_REQUIRE_SERVICES is set: the server must be running)", pytrace=False)
    pytest.skip(message)
