"""``open_bus``: from a URL to an event bus, importing only the backend the URL names.

>>> open_bus("memory://").url
'memory://'
>>> open_bus("kafka://host:9092")
Traceback (most recent call last):
  ...
ctml.errors.UnknownBackendError: Unknown event bus URL scheme 'kafka' in 'kafka://host:9092'. \
Expected one of: memory, nats, postgresql, redis, sqlite, for example memory:///path.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from ctml.bus._base import Bus
from ctml.errors import ConfigError, UnknownBackendError

__all__ = ["BACKENDS", "open_bus"]

BACKENDS: dict[str, str] = {
    "memory": "ctml.bus._memory:MemoryBus",
    "sqlite": "ctml.bus._sql:SqlBus",
    "postgresql": "ctml.bus._sql:SqlBus",
    "redis": "ctml.bus._redis:RedisBus",
    "nats": "ctml.bus._nats:NatsBus",
}
"""URL scheme -> ``module:Class`` of the backend, imported when a URL asks for it."""

_EXAMPLES = (
    "memory://, sqlite:///.ctml/meta.db, postgresql://user@host/db, redis://127.0.0.1:6379/0 or nats://127.0.0.1:4222"
)


def open_bus(url: str, **options: Any) -> Bus:
    """The event bus at ``url``; ``options`` (``clock``, ``visibility``, and per backend ``prefix``,
    ``stream``, ``dedup_ttl``) go to the backend's constructor."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(f"An event bus URL looks like {_EXAMPLES}. Got {url!r}.")
    scheme = url.split("://", 1)[0].lower()
    target = BACKENDS.get(scheme.split("+", 1)[0])
    if target is None:
        raise UnknownBackendError(url, "event bus", sorted(BACKENDS))
    module_name, _, class_name = target.partition(":")
    backend = getattr(importlib.import_module(module_name), class_name)
    if scheme == "memory":
        if url not in ("memory://", "memory:///"):
            raise ConfigError(f"The in-process bus takes no host or path: use 'memory://'. Got {url!r}.")
        return cast(Bus, backend(**options))
    return cast(Bus, backend.from_url(url, **options))
