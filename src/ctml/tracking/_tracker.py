"""The tracking API: runs with params, metrics (batched), tags and artifacts. No global "active run".

>>> from ctml.meta import open_meta
>>> tracker = Tracker(open_meta("sqlite://"))
>>> with tracker.start_run("train", params={"alpha": 0.5}, capture=False) as run:
...     run.log_metrics({"accuracy": 0.91, "f1": 0.88}, step=1)
>>> found = tracker.search_runs("metrics.accuracy > 0.9")
>>> [(r.status, r.params["alpha"], r.metrics["accuracy"]) for r in found]
[('finished', '0.5', 0.91)]
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from ctml.errors import ConfigError
from ctml.meta import ArtifactRef, MetaStore, Metric, Node, Run
from ctml.store import ArtifactStore
from ctml.tracking._environment import capture_environment, git_commit
from ctml.types import JSON, RunStatus

__all__ = ["ActiveRun", "Tracker"]


class Tracker:
    """Start and search runs in a metadata store; artifacts go to an artifact store when one is given."""

    def __init__(self, meta: MetaStore, artifacts: ArtifactStore | None = None, *, actor: str = "unknown") -> None:
        self.meta = meta
        self.artifacts = artifacts
        self.actor = actor

    def start_run(
        self,
        name: str,
        *,
        app: str | None = None,
        kind: str = "run",
        params: Mapping[str, JSON] | None = None,
        tags: Mapping[str, str] | None = None,
        parent: str | None = None,
        seed: int | None = None,
        code_fingerprint: str | None = None,
        capture: bool = True,
    ) -> ActiveRun:
        """Start a run. With ``capture`` the Python environment and git commit are recorded too."""
        run_id = self.meta.runs.create(
            name,
            app=app,
            kind=kind,
            actor=self.actor,
            parent_id=parent,
            params=params,
            tags=tags,
            code_fingerprint=code_fingerprint,
            git_commit=git_commit() if capture else None,
            environment=capture_environment() if capture else None,
            seed=seed,
        )
        return ActiveRun(self, run_id)

    def get_run(self, run_id: str) -> Run:
        return self.meta.runs.get(run_id)

    def search_runs(
        self, filter: str = "", *, app: str | None = None, order_by: str = "created desc", limit: int = 100
    ) -> list[Run]:
        return self.meta.runs.search(filter, app=app, order_by=order_by, limit=limit)


class ActiveRun:
    """A run being written. As a context manager it ends ``finished``, or ``failed`` with the traceback."""

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        self.tracker = tracker
        self.id = run_id
        self._ended = False

    def __repr__(self) -> str:
        return f"ActiveRun({self.id!r})"

    def log_params(self, params: Mapping[str, JSON]) -> None:
        self.tracker.meta.runs.log(self.id, params=params)

    def log_param(self, key: str, value: JSON) -> None:
        self.log_params({key: value})

    def log_metrics(self, metrics: Mapping[str, float], *, step: int = 0) -> None:
        """Log several metrics at one step in one transaction."""
        self.tracker.meta.runs.log(self.id, metrics=[Metric(k, v, step) for k, v in metrics.items()])

    def log_metric(self, key: str, value: float, *, step: int = 0) -> None:
        self.log_metrics({key: value}, step=step)

    def log_batch(
        self,
        *,
        params: Mapping[str, JSON] | None = None,
        metrics: list[Metric] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Params, metric points (any steps) and tags in one transaction: the fast path for bulk logging."""
        self.tracker.meta.runs.log(self.id, params=params, metrics=metrics or [], tags=tags)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.tracker.meta.runs.log(self.id, tags=tags)

    def log_artifact(
        self, name: str, data: bytes | str | os.PathLike[str], *, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        """Store bytes or a file in the artifact store and attach it to the run under ``name``."""
        store = self.tracker.artifacts
        if store is None:
            raise ConfigError("This tracker has no artifact store; pass one to Tracker(meta, artifacts).")
        if isinstance(data, bytes):
            digest, size = store.put_bytes(data), len(data)
        else:
            path = Path(data)
            if not path.is_file():
                raise ConfigError(f"Cannot log artifact {name!r}: {path} is not a file.")
            digest, size = store.put_file(path), path.stat().st_size
        ref = self.tracker.meta.artifacts.add(name, digest, size, run_id=self.id, media_type=media_type)
        self.tracker.meta.lineage.add(Node("run", self.id), Node("artifact", digest), "output")
        return ref

    def finish(self, status: str = RunStatus.FINISHED, error: str | None = None) -> None:
        if not self._ended:
            self.tracker.meta.runs.finish(self.id, status, error)
            self._ended = True

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.finish(RunStatus.FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish(RunStatus.KILLED, "interrupted")
        else:
            self.finish(RunStatus.FAILED, "".join(traceback.format_exception(exc_type, exc, tb)))
