"""The metadata store: one engine, one clock, and a repository per concept."""

from __future__ import annotations

from types import TracebackType

from ctml.clock import Clock, WallClock
from ctml.meta._catalog import AppRepo, DatasetRepo
from ctml.meta._control import ControllerStateRepo, LeaseRepo
from ctml.meta._engine import connect, describe_url, migrate
from ctml.meta._journal import AuditRepo, DecisionRepo, EventRepo
from ctml.meta._lineage import LineageRepo
from ctml.meta._models import ModelRepo
from ctml.meta._predictions import PredictionRepo
from ctml.meta._runs import ArtifactRepo, RunRepo, StepRepo
from ctml.meta._serving import RolloutRepo, RouteRepo, TokenRepo
from ctml.meta._snapshots import SnapshotRepo
from ctml.meta._watermarks import WatermarkRepo

__all__ = ["MetaStore", "open_meta"]


class MetaStore:
    """Runs, steps, artifacts, models and aliases, lineage, datasets, events, decisions and the audit log.

    Open one with :func:`open_meta`. It is safe to use from several threads, processes (SQLite) and hosts
    (PostgreSQL) at once: every write is one transaction.
    """

    def __init__(self, url: str, *, clock: Clock | None = None, auto_migrate: bool = True) -> None:
        self.url = url
        self.clock: Clock = clock or WallClock()
        self.engine = connect(url)
        try:
            migrate(self.engine, auto=auto_migrate)
        except BaseException:
            self.engine.dispose()
            raise
        args = (self.engine, self.clock)
        self.apps = AppRepo(*args)
        self.runs = RunRepo(*args)
        self.steps = StepRepo(*args)
        self.artifacts = ArtifactRepo(*args)
        self.models = ModelRepo(*args)
        self.lineage = LineageRepo(*args)
        self.datasets = DatasetRepo(*args)
        self.events = EventRepo(*args)
        self.decisions = DecisionRepo(*args)
        self.audit = AuditRepo(*args)
        self.watermarks = WatermarkRepo(*args)
        self.predictions = PredictionRepo(*args)
        self.routes = RouteRepo(*args)
        self.rollouts = RolloutRepo(*args)
        self.tokens = TokenRepo(*args)
        self.leases = LeaseRepo(*args)
        self.controller = ControllerStateRepo(*args)
        self.snapshots = SnapshotRepo(*args)

    def __repr__(self) -> str:
        return f"MetaStore({describe_url(self.url)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> MetaStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_meta(url: str, *, clock: Clock | None = None, auto_migrate: bool = True) -> MetaStore:
    """Open (and create or migrate) the metadata store at ``url``: ``sqlite:///path`` or ``postgresql://...``."""
    return MetaStore(url, clock=clock, auto_migrate=auto_migrate)
