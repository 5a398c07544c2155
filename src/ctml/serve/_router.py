"""Traffic routing: which model version answers a request (champion, canary) and which only listens (shadow).

A route table is a JSON document, one per app, read from the metadata store (``meta.routes``) so the roll-out
state machine can change it while servers run::

    {"champion": "champion",                         # a registry ref: an alias, "v3" or 3
     "canary": {"ref": "challenger", "percent": 5},  # optional: 5% of requests
     "shadow": "v7",                                 # optional: predicts on every request, only logged
     "challengers": ["v5", "v8"],                    # optional: the always-on tournament, each like a shadow
     "sticky": "header:x-ctml-key"}                  # or "feature:customer_id", or null (random split)

The canary split is sticky when a key is present: the key's bucket is the first 8 bytes of
``sha256(app NUL key)`` read as a fraction of 2**64, so every worker and every server agrees on it without
talking to each other, and a key stays on its side as the percentage grows. Without a key the split is random.
A shadow model never answers: the champion does, and the shadow's prediction is logged with route ``shadow``.
Challengers are the app's standing tournament: each answers every request off the request path, like a shadow,
logged with route ``challenger``, and is scored on the same labelled rows as the champion.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ctml.errors import ConfigError
from ctml.serve._loaded import LoadedModel
from ctml.types import JSONObject

__all__ = ["ActiveRoutes", "RouteSpec", "Router", "bucket"]

ROUTES = ("champion", "canary", "shadow")
DEFAULT_STICKY = "header:x-ctml-key"


def bucket(app: str, key: str) -> float:
    """Where ``key`` falls in ``[0, 1)`` for ``app``'s split; the same on every worker.

    >>> round(bucket("churn", "customer-42"), 6)
    0.569804
    """
    digest = hashlib.sha256(f"{app}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True)
class RouteSpec:
    """A parsed, validated route table (refs not yet resolved to versions)."""

    champion: str
    canary: str | None = None
    canary_percent: float = 0.0
    shadow: str | None = None
    sticky: str | None = DEFAULT_STICKY
    challengers: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RouteSpec:
        """Read a route table; a bad one raises :class:`ConfigError` naming the field.

        >>> RouteSpec.from_json({"champion": "champion", "canary": {"ref": "v2", "percent": 10}}).canary_percent
        10.0
        """
        if not isinstance(value, Mapping):
            raise ConfigError(f"A route table must be a JSON object. Got {value!r}.")
        unknown = sorted(set(value) - {"champion", "canary", "shadow", "sticky", "challengers"})
        if unknown:
            raise ConfigError(
                f"A route table has the fields champion, canary, shadow, challengers, sticky; not {unknown}."
            )
        champion = _ref("champion", value.get("champion", "champion"))
        canary, percent = None, 0.0
        if value.get("canary") is not None:
            spec = value["canary"]
            if not isinstance(spec, Mapping) or "ref" not in spec:
                raise ConfigError(f"The 'canary' route must be {{'ref': ..., 'percent': ...}}. Got {spec!r}.")
            canary = _ref("canary", spec["ref"])
            percent = spec.get("percent", 0)
            if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
                raise ConfigError(f"The canary 'percent' must be a number in [0, 100]. Got {percent!r}.")
        shadow = None if value.get("shadow") is None else _ref("shadow", value["shadow"])
        sticky = value.get("sticky", DEFAULT_STICKY)
        if sticky is not None and (
            not isinstance(sticky, str) or not sticky.startswith(("header:", "feature:")) or sticky[-1] == ":"
        ):
            raise ConfigError(f"'sticky' must be 'header:NAME', 'feature:NAME' or null. Got {sticky!r}.")
        found = value.get("challengers") or []
        if not isinstance(found, list | tuple) or len(found) > 16:
            raise ConfigError(f"'challengers' must be a list of at most 16 registry refs. Got {found!r}.")
        challengers = tuple(_ref("challengers", ref) for ref in found)
        return cls(champion, canary, float(percent), shadow, sticky, challengers)

    def to_json(self) -> JSONObject:
        return {
            "champion": self.champion,
            "canary": None if self.canary is None else {"ref": self.canary, "percent": self.canary_percent},
            "shadow": self.shadow,
            "sticky": self.sticky,
            **({"challengers": list(self.challengers)} if self.challengers else {}),
        }


@dataclass(frozen=True)
class ActiveRoutes:
    """A route table with its refs loaded: what a request is served from. Replaced whole, never changed."""

    spec: RouteSpec
    champion: LoadedModel
    canary: LoadedModel | None = None
    shadow: LoadedModel | None = None
    revision: int = 0
    challengers: tuple[LoadedModel, ...] = ()

    @property
    def versions(self) -> dict[str, int]:
        out = {"champion": self.champion.version}
        if self.canary is not None:
            out["canary"] = self.canary.version
        if self.shadow is not None:
            out["shadow"] = self.shadow.version
        for i, challenger in enumerate(self.challengers):
            out[f"challenger{i}"] = challenger.version
        return out

    @property
    def loaded(self) -> list[LoadedModel]:
        """Every version these routes hold, each once."""
        found = [self.champion, self.canary, self.shadow, *self.challengers]
        seen: dict[int, LoadedModel] = {}
        for served in found:
            if served is not None:
                seen.setdefault(served.version, served)
        return list(seen.values())


class Router:
    """Picks the route of one request from the app's :class:`ActiveRoutes`: ``champion`` or ``canary``."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def sticky_key(self, routes: ActiveRoutes, headers: Mapping[str, str], first_row: Mapping[str, Any]) -> str | None:
        sticky = routes.spec.sticky
        if sticky is None or routes.canary is None:
            return None
        kind, _, name = sticky.partition(":")
        if kind == "header":
            return headers.get(name)
        value = first_row.get(name)
        return None if value is None else str(value)

    def choose(self, app: str, routes: ActiveRoutes, key: str | None) -> str:
        if routes.canary is None or routes.spec.canary_percent <= 0:
            return "champion"
        share = routes.spec.canary_percent / 100.0
        point = bucket(app, key) if key is not None else self._rng.random()
        return "canary" if point < share else "champion"


def _ref(field: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise ConfigError(f"The {field!r} route must name a registry ref: an alias, 'v3' or 3. Got {value!r}.")
    return str(value)
