"""Every bus check on every backend: in-process, SQLite, PostgreSQL, Redis Streams and NATS JetStream."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import ctml.testing.bus as suite
from ctml.testing.bus import BUS_CHECKS, BusHarness


@pytest.mark.parametrize("check", BUS_CHECKS, ids=lambda check: check.__name__)
def test_conformance(check: Callable[[BusHarness], None], harness: BusHarness) -> None:
    check(harness)


def test_checks_are_listed_once_and_exported() -> None:
    names = [check.__name__ for check in BUS_CHECKS]
    assert len(names) == len(set(names))
    defined = {name for name in dir(suite) if name.startswith("check_") and name != "check_bus"}
    assert set(names) == defined
    assert set(names) <= set(suite.__all__)
