"""A workspace: the metadata store, artifact store, tracker and registry opened from one :class:`Settings`.

It is a thin convenience over the objects it holds; nothing here is global.
"""

from __future__ import annotations

from types import TracebackType

from ctml.clock import Clock
from ctml.config import Settings
from ctml.meta import MetaStore, open_meta
from ctml.registry import ModelRegistry
from ctml.store import ArtifactStore, open_store
from ctml.tracking import Tracker

__all__ = ["Workspace"]


class Workspace:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.meta: MetaStore = open_meta(settings.meta_url, clock=clock, auto_migrate=settings.auto_migrate)
        try:
            self.artifacts: ArtifactStore = open_store(settings.artifact_url)
        except BaseException:
            self.meta.close()
            raise
        self.tracker = Tracker(self.meta, self.artifacts, actor=settings.actor)
        self.registry = ModelRegistry(self.meta, self.artifacts, actor=settings.actor)

    @classmethod
    def open(cls, settings: Settings | None = None, *, clock: Clock | None = None) -> Workspace:
        """Open the workspace of ``settings`` (default: :meth:`Settings.from_env`)."""
        return cls(settings or Settings.from_env(), clock=clock)

    def close(self) -> None:
        self.meta.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
