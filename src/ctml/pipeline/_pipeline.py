"""A pipeline: steps checked into a graph when it is built, run (and resumed) against a workspace's stores.

>>> import tempfile
>>> from ctml.meta import open_meta
>>> from ctml.store import open_store
>>> from ctml.pipeline import step
>>> @step
... def numbers(n: int = 3) -> list[int]:
...     return list(range(n))
>>> @step
... def total(numbers: list[int]) -> int:
...     return sum(numbers)
>>> flow = Pipeline([numbers, total], name="sums")
>>> meta, store = open_meta("sqlite://"), open_store(tempfile.mkdtemp())
>>> first = flow.run(meta, store, params={"n": 5})
>>> first.load("total"), flow.run(meta, store, params={"n": 5}).cached
(10, ['numbers', 'total'])
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ctml.clock import Clock, WallClock
from ctml.errors import ConfigError, ConflictError
from ctml.exec import Executor, InlineExecutor, open_executor
from ctml.hashing import canonical_json, sha256_json
from ctml.meta import MetaStore
from ctml.pipeline._errors import PipelineDefinitionError, PipelineRunError
from ctml.pipeline._graph import Graph, build_graph, check_params
from ctml.pipeline._record import Recorder, Resumed
from ctml.pipeline._runner import Observer, Runner
from ctml.pipeline._step import Step
from ctml.store import ArtifactStore
from ctml.tracking import capture_environment, git_commit
from ctml.types import RunStatus

__all__ = ["Pipeline", "PipelineResult"]


@dataclass(frozen=True)
class PipelineResult:
    """A finished run: each step's output digest, and which steps were cache hits or resumed."""

    run_id: str
    outputs: dict[str, str]
    store: ArtifactStore = field(repr=False)
    cached: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)

    def load(self, name: str) -> Any:
        """A step's output, read back digest-verified from the artifact store."""
        if name not in self.outputs:
            raise ConfigError(f"Run {self.run_id} has no output {name!r}. Outputs: {', '.join(self.outputs)}.")
        return pickle.loads(self.store.get_bytes(self.outputs[name]))


class Pipeline:
    """Steps whose parameter names wire them together; checked here, before anything runs.

    ``params`` declares the pipeline's params with their defaults (``...`` for a required one); a step
    parameter that has a default is a param too. Every other input must be a step's name, or ``seed``.
    """

    def __init__(self, steps: Sequence[Step], *, name: str = "pipeline", params: Mapping[str, Any] | None = None):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"The 'name' parameter of Pipeline must be a non-empty string. Got {name!r}.")
        self.name = name
        self.graph: Graph = build_graph(list(steps), dict(params or {}))

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps=[{', '.join(self.graph.steps)}])"

    @property
    def steps(self) -> list[str]:
        """Step names in the order they can run."""
        return list(self.graph.steps)

    @property
    def fingerprint(self) -> str:
        """The sha256 of the steps' code fingerprints and the graph's wiring."""
        return sha256_json({n: [s.fingerprint, s.over, self.graph.upstream[n]] for n, s in self.graph.steps.items()})

    def run(
        self,
        meta: MetaStore,
        store: ArtifactStore,
        *,
        params: Mapping[str, Any] | None = None,
        seed: int = 0,
        executor: Executor | str = "inline",
        run_id: str | None = None,
        observer: Observer | None = None,
        clock: Clock | None = None,
    ) -> PipelineResult:
        """Run the pipeline, or with ``run_id`` resume that run (see :meth:`resume`).

        Raises :class:`PipelineRunError` after recording the run as failed when a step fails for good.
        """
        if run_id is not None:
            if params:
                raise ConfigError("A resumed run keeps the params it started with; pass run_id or params, not both.")
            return self.resume(meta, store, run_id, executor=executor, observer=observer, clock=clock)
        values = check_params(self.graph, params or {})
        _require_json(values)
        self._require_runnable_on(executor)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"The 'seed' parameter of run must be an int. Got {seed!r}.")
        recorder = self._start(meta, store, values, seed)
        state = Resumed(values, seed, {}, {})
        return self._go(recorder, state, in_place=True, executor=executor, observer=observer, clock=clock)

    def resume(
        self,
        meta: MetaStore,
        store: ArtifactStore,
        run_id: str,
        *,
        executor: Executor | str = "inline",
        observer: Observer | None = None,
        clock: Clock | None = None,
    ) -> PipelineResult:
        """Finish ``run_id`` from its last finished steps, which are not run again.

        A run that was killed (still ``running`` in the metadata store) continues in place. A run that ended
        failed starts a new run with it as parent, reusing its finished steps (recorded as cache hits).
        """
        self._require_runnable_on(executor)
        previous = Recorder(meta, store, run_id)
        state = previous.read_back()
        status = meta.runs.get(run_id).status
        if status == RunStatus.FINISHED:
            named = {name: state.finished[name].digest for name in self.graph.steps if name in state.finished}
            return PipelineResult(run_id, named, store, resumed=list(named))
        if status == RunStatus.RUNNING:
            return self._go(previous, state, in_place=True, executor=executor, observer=observer, clock=clock)
        recorder = self._start(meta, store, state.params, state.seed, parent_id=run_id)
        fresh = Resumed(state.params, state.seed, state.finished, {})
        return self._go(recorder, fresh, in_place=False, executor=executor, observer=observer, clock=clock)

    def _start(
        self, meta: MetaStore, store: ArtifactStore, params: Mapping[str, Any], seed: int, parent_id: str | None = None
    ) -> Recorder:
        return Recorder.start_run(
            meta,
            store,
            self.name,
            params=params,
            seed=seed,
            fingerprint=self.fingerprint,
            git_commit=git_commit(),
            environment=capture_environment(),
            parent_id=parent_id,
        )

    def _go(
        self,
        recorder: Recorder,
        state: Resumed,
        *,
        in_place: bool,
        executor: Executor | str,
        observer: Observer | None,
        clock: Clock | None,
    ) -> PipelineResult:
        owned = isinstance(executor, str)
        chosen = open_executor(executor) if isinstance(executor, str) else executor
        try:
            runner = Runner(
                self.graph,
                recorder,
                chosen,
                clock or WallClock(),
                params=state.params,
                seed=state.seed,
                previous=state.finished,
                in_place=in_place,
                attempts=state.attempts if in_place else {},
                observer=observer,
            )
            try:
                runner.run()
            except ConflictError:
                raise  # another process is running this run: its record is not this one's to end
            except BaseException as exc:
                status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
                recorder.end(status, f"{type(exc).__name__}: {exc}")
                raise
        finally:
            if owned:
                chosen.shutdown()
        if runner.failures:
            recorder.end(RunStatus.FAILED, "\n\n".join(f.traceback or str(f) for f in runner.failures))
            raise PipelineRunError(recorder.run_id, runner.failures)
        recorder.end(RunStatus.FINISHED)
        outputs = {name: runner.done[name] for name in self.graph.steps}
        return PipelineResult(recorder.run_id, outputs, recorder.store, runner.cached, runner.resumed)

    def _require_runnable_on(self, executor: Executor | str) -> None:
        if executor in ("inline", "inline://") or isinstance(executor, InlineExecutor):
            return
        for one in self.graph.steps.values():
            try:
                same = pickle.loads(pickle.dumps(one)).fn is one.fn
            except Exception:
                same = False
            if not same:
                raise PipelineDefinitionError(
                    f"{one.where}: step {one.name!r} cannot run in another process: worker processes import "
                    f"it by name ({one.fn.__module__}.{one.fn.__qualname__}), so define it with @step at the top "
                    "level of an importable module, or use the inline executor."
                )


def _require_json(params: Mapping[str, Any]) -> None:
    try:
        canonical_json(dict(params))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"Pipeline params are recorded as JSON, so they must be strings, numbers, booleans, lists or dicts: "
            f"{exc}. Pass paths or names as params and load big objects in a step."
        ) from None
