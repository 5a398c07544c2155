"""Hot swap: a thread that re-reads each app's route table and aliases, loads what moved, and swaps it in.

A moved alias's new version is loaded in the background (digest verified while read, then warmed with one
prediction); only then is the app's :class:`ActiveRoutes` replaced, in one reference assignment. A request
reads that reference once, at its start, so in-flight requests finish on the versions they started with and
no request ever sees a half-loaded model. A version that fails to load or warm is not swapped in: the old
routes keep serving, and the failure is counted and logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from ctml.errors import CtmlError
from ctml.registry import ModelRegistry
from ctml.serve._config import AppSpec
from ctml.serve._loaded import LoadedModel, load_version
from ctml.serve._router import ActiveRoutes, RouteSpec

__all__ = ["AppSlot", "Watcher"]

_log = logging.getLogger("ctml.serve")


class AppSlot:
    """One served app: its spec and the routes its requests are answered from (``None`` until loaded)."""

    def __init__(self, spec: AppSpec) -> None:
        self.spec = spec
        self.routes: ActiveRoutes | None = None
        self.last_error: str | None = None


class Watcher:
    """Polls every ``poll_s`` seconds (or at once on :meth:`trigger`) and swaps in moved versions."""

    def __init__(
        self,
        registry: ModelRegistry,
        slots: Sequence[AppSlot],
        *,
        poll_s: float,
        max_rows: int,
        fast_path: bool = True,
        on_swap: Callable[[AppSlot], None] | None = None,
        on_failure: Callable[[AppSlot], None] | None = None,
        on_poll: Callable[[], None] | None = None,
        prepare: Callable[[str, LoadedModel], LoadedModel] | None = None,
        on_routes: Callable[[AppSlot], None] | None = None,
        refresh: Callable[[str, LoadedModel], LoadedModel | None] | None = None,
    ) -> None:
        self.registry = registry
        self.slots = list(slots)
        self.poll_s = poll_s
        self.max_rows = max_rows
        self.fast_path = fast_path
        self.on_swap = on_swap
        self.on_failure = on_failure
        self.on_poll = on_poll
        self.prepare = prepare
        self.on_routes = on_routes
        self.refresh = refresh
        self._cache: dict[tuple[str, int], LoadedModel] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.polls = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ctml-model-watcher", daemon=True)
            self._thread.start()

    def trigger(self) -> None:
        """Poll now (a signal handler or an operator's reload calls this)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def poll(self) -> int:
        """Check every app once; returns how many swapped. Safe to call from any thread."""
        swapped = 0
        with self._lock:
            for slot in self.slots:
                try:
                    if self._refresh(slot):
                        swapped += 1
                        slot.last_error = None
                        if self.on_swap is not None:
                            self.on_swap(slot)
                except (CtmlError, OSError, ValueError, TypeError, KeyError) as exc:
                    slot.last_error = f"{type(exc).__name__}: {exc}"
                    _log.warning("App %r: keeping its current models; loading failed: %s", slot.spec.name, exc)
                    if self.on_failure is not None:
                        self.on_failure(slot)
            self.polls += 1
        if self.on_poll is not None:
            try:
                self.on_poll()
            except Exception:  # refreshing tokens must not stop model swaps
                _log.exception("The watcher's poll hook failed.")
        return swapped

    def _refresh(self, slot: AppSlot) -> bool:
        model = slot.spec.model
        record = self.registry.meta.routes.get(slot.spec.name)
        spec = RouteSpec(slot.spec.alias) if record is None else RouteSpec.from_json(record.routes)
        revision = 0 if record is None else record.revision
        wanted = {"champion": self.registry.resolve(model, spec.champion).version}
        if spec.canary is not None:
            wanted["canary"] = self.registry.resolve(model, spec.canary).version
        if spec.shadow is not None:
            wanted["shadow"] = self.registry.resolve(model, spec.shadow).version
        for i, ref in enumerate(spec.challengers):
            wanted[f"challenger{i}"] = self.registry.resolve(model, ref).version
        current = slot.routes
        refreshed = self._refreshed(model, set(wanted.values()), slot.spec.name)  # newer snapshots, when following
        if not refreshed and current is not None and current.spec == spec and current.versions == wanted:
            return False
        loaded = {route: self._load(model, version, slot.spec.name) for route, version in wanted.items()}
        challengers = tuple(loaded[f"challenger{i}"] for i in range(len(spec.challengers)))
        slot.routes = ActiveRoutes(spec, loaded["champion"], loaded.get("canary"), loaded.get("shadow"), revision,
                                   challengers)  # fmt: skip
        if self.on_routes is not None:
            self.on_routes(slot)
        live = {(s.spec.model, v) for s in self.slots if s.routes is not None for v in s.routes.versions.values()}
        for key in [k for k in self._cache if k not in live]:
            del self._cache[key]  # versions no route uses any more: let them be collected
        return True

    def _refreshed(self, model: str, versions: set[int], app: str) -> bool:
        """Swap in what ``refresh`` gives for the loaded versions (a newer snapshot); True when any changed."""
        if self.refresh is None:
            return False
        changed = False
        for key in [(model, v) for v in sorted(versions) if (model, v) in self._cache]:
            newer = self.refresh(app, self._cache[key])
            if newer is not None:
                self._cache[key] = newer
                changed = True
        return changed

    def _load(self, model: str, version: int, app: str) -> LoadedModel:
        key = (model, version)
        if key not in self._cache:
            loaded = load_version(self.registry, model, version, max_rows=self.max_rows, fast_path=self.fast_path)
            self._cache[key] = loaded if self.prepare is None else self.prepare(app, loaded)
        return self._cache[key]

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.poll()
