"""Executors by URI: ``inline``, ``process://?workers=N``, ``ray://HOST:PORT`` (or ``ray://auto``).

Backends are imported lazily, so Ray is only needed when a ``ray://`` URI is chosen.
"""

from __future__ import annotations

import importlib.util
from urllib.parse import parse_qs, urlsplit

from ctml.errors import ConfigError, MissingExtraError, UnknownBackendError
from ctml.exec._base import Executor
from ctml.exec._inline import InlineExecutor
from ctml.exec._process import ProcessExecutor
from ctml.exec._ray import RayExecutor

__all__ = ["open_executor"]

_SCHEMES = ["inline", "process", "ray"]


def open_executor(uri: str = "inline") -> Executor:
    """The executor a URI names.

    >>> open_executor("inline")
    InlineExecutor()
    >>> open_executor("process://?workers=2")
    ProcessExecutor(workers=2)
    """
    if uri in ("inline", "inline://"):
        return InlineExecutor()
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    if parts.scheme == "process":
        unknown = sorted(set(query) - {"workers"})
        if unknown or parts.netloc or parts.path:
            raise ConfigError(f"A process executor URI looks like process://?workers=4. Got {uri!r}.")
        workers = query.get("workers", [None])[-1]
        if workers is not None and not workers.isdigit():
            raise ConfigError(f"The workers of {uri!r} must be a whole number >= 1. Got {workers!r}.")
        return ProcessExecutor(None if workers is None else int(workers))
    if parts.scheme == "ray":
        if not parts.netloc or parts.path.strip("/") or parts.query:
            raise ConfigError(f"A Ray executor URI looks like ray://127.0.0.1:6390 or ray://auto. Got {uri!r}.")
        if importlib.util.find_spec("ray") is None:
            raise MissingExtraError("ray", f"The executor {uri!r}", "ray")
        return RayExecutor(parts.netloc)
    raise UnknownBackendError(uri, "executor", _SCHEMES)
