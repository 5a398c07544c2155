"""What a pipeline run writes to the metadata and artifact stores, in an order that survives ``kill -9``.

A step's output is written as: bytes into the artifact store (content-addressed, so writing twice is
harmless), lineage edges (idempotent), the artifact reference, then the step row's end. A run killed
between any two of these resumes cleanly: a step row still ``running`` that already holds its artifact
reference did finish and is adopted; one without is marked ``killed`` and runs again as a new attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ctml.hashing import canonical_json
from ctml.meta import MetaStore, Node
from ctml.store import ArtifactStore
from ctml.types import RunStatus

__all__ = ["PARAMS_ARTIFACT", "Finished", "Recorder", "Resumed"]

PARAMS_ARTIFACT = "pipeline.params"
_OUTPUT_MEDIA = "application/x-python-pickle"


@dataclass(frozen=True)
class Finished:
    """A step (or partition) finished in a run: its cache key and output digest."""

    cache_key: str | None
    digest: str
    size: int


@dataclass(frozen=True)
class Resumed:
    """What an interrupted run had done: its params, finished steps and the last attempt of each step."""

    params: dict[str, Any]
    seed: int
    finished: dict[str, Finished]
    attempts: dict[str, int]


class Recorder:
    """Writes one run's records; every method is one or a few idempotent store calls."""

    def __init__(self, meta: MetaStore, store: ArtifactStore, run_id: str) -> None:
        self.meta = meta
        self.store = store
        self.run_id = run_id

    @classmethod
    def start_run(
        cls,
        meta: MetaStore,
        store: ArtifactStore,
        name: str,
        *,
        params: Mapping[str, Any],
        seed: int,
        fingerprint: str,
        git_commit: str | None,
        environment: dict[str, Any] | None,
        parent_id: str | None = None,
    ) -> Recorder:
        run_id = meta.runs.create(
            name,
            kind="pipeline",
            params=dict(params),
            seed=seed,
            code_fingerprint=fingerprint,
            git_commit=git_commit,
            environment=environment,
            parent_id=parent_id,
            tags={"ctml.pipeline": name},
        )
        recorder = cls(meta, store, run_id)
        document = canonical_json({"params": dict(params), "seed": seed}).encode()
        digest = store.put_bytes(document)
        meta.artifacts.add(PARAMS_ARTIFACT, digest, len(document), run_id=run_id, media_type="application/json")
        return recorder

    def read_back(self) -> Resumed:
        """The state of this run so far, adopting steps that stored their output just before a crash."""
        refs = self.meta.artifacts.list(run_id=self.run_id)
        by_step = {ref.step_id: ref for ref in refs if ref.step_id is not None}
        document = next((ref.digest for ref in refs if ref.name == PARAMS_ARTIFACT and ref.step_id is None), None)
        saved: dict[str, Any] = json.loads(self.store.get_bytes(document)) if document else {"params": {}, "seed": 0}
        finished: dict[str, Finished] = {}
        attempts: dict[str, int] = {}
        running = self.meta.runs.get(self.run_id).status == RunStatus.RUNNING
        for row in self.meta.steps.list(self.run_id):
            attempts[row.name] = max(attempts.get(row.name, 0), row.attempt)
            ref = by_step.get(row.id)
            if row.status == RunStatus.RUNNING and running:
                if ref is not None:
                    self.meta.steps.finish(row.id, RunStatus.FINISHED, cached=row.cached)
                else:
                    self.meta.steps.finish(row.id, RunStatus.KILLED, error="interrupted: its process stopped")
                    continue
            elif row.status != RunStatus.FINISHED:
                continue
            if ref is not None:
                finished[row.name] = Finished(row.cache_key, ref.digest, ref.size)
        return Resumed(dict(saved["params"]), int(saved["seed"]), finished, attempts)

    def start_step(self, label: str, attempt: int, cache_key: str | None) -> str:
        step_id = self.meta.steps.start(self.run_id, label, attempt=attempt, cache_key=cache_key)
        self.meta.lineage.add(Node("run", self.run_id), Node("step", step_id), "step")
        return step_id

    def inputs(self, step_id: str, digests: Mapping[str, str]) -> None:
        for digest in sorted(set(digests.values())):
            self.meta.lineage.add(Node("artifact", digest), Node("step", step_id), "input")

    def output(self, step_id: str, label: str, data: bytes, *, cached: bool = False) -> str:
        digest = self.store.put_bytes(data)
        self.link_output(step_id, label, digest, len(data), cached=cached)
        return digest

    def link_output(self, step_id: str, label: str, digest: str, size: int, *, cached: bool) -> None:
        self.meta.lineage.add(Node("step", step_id), Node("artifact", digest), "output")
        self.meta.lineage.add(Node("run", self.run_id), Node("artifact", digest), "output")
        self.meta.artifacts.add(label, digest, size, run_id=self.run_id, step_id=step_id, media_type=_OUTPUT_MEDIA)
        self.meta.steps.finish(step_id, RunStatus.FINISHED, cached=cached)

    def failed(self, step_id: str, error: str) -> None:
        self.meta.steps.finish(step_id, RunStatus.FAILED, error=error)

    def cached_output(self, cache_key: str) -> tuple[str, int] | None:
        """The digest and size of what a finished step with ``cache_key`` produced, if still stored."""
        found = self.meta.steps.find(cache_key)
        if found is None:
            return None
        refs = self.meta.artifacts.list(run_id=found.run_id)
        ref = next((ref for ref in refs if ref.step_id == found.id), None)
        return (ref.digest, ref.size) if ref is not None and self.store.exists(ref.digest) else None

    def end(self, status: RunStatus, error: str | None = None) -> None:
        self.meta.runs.finish(self.run_id, status, error)
