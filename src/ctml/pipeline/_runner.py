"""Running a checked graph: wave by wave, reusing what a resumed run or the cache already holds.

Each wave submits every step whose inputs are ready (and every partition of a mapped step) to the executor,
records each attempt, retries failures with exponential backoff, and gathers mapped steps. After a wave in
which something failed for good, no new wave starts; the steps already submitted finish and are recorded.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from typing import Any

from ctml.clock import Clock
from ctml.exec import Executor
from ctml.hashing import sha256_bytes, sha256_json
from ctml.pipeline._boundary import PICKLE_PROTOCOL, Outcome, call_step, failure_of
from ctml.pipeline._errors import PipelineDefinitionError, StepFailure
from ctml.pipeline._graph import SEED, Graph
from ctml.pipeline._record import Finished, Recorder
from ctml.pipeline._step import Step

__all__ = ["Observer", "Runner", "StepEvent"]


@dataclass(frozen=True)
class StepEvent:
    """Progress of a run, for displays and tests: ``kind`` is started, finished, cached, resumed, retrying or
    failed; ``step`` is the step's name (``name[key]`` for a partition of a mapped step)."""

    kind: str
    step: str
    attempt: int = 0
    error: str | None = None


Observer = Callable[[StepEvent], None]


@dataclass
class _Task:
    label: str
    step: Step
    kwargs: dict[str, Any]
    cache_key: str
    inputs: dict[str, str]
    attempt: int = 0
    tries: int = 0
    step_id: str = ""
    future: Future[Outcome] | None = field(default=None, repr=False)


class Runner:
    """One run of ``graph``: ``done`` maps each finished step (and partition) to its output digest."""

    def __init__(
        self,
        graph: Graph,
        recorder: Recorder,
        executor: Executor,
        clock: Clock,
        *,
        params: Mapping[str, Any],
        seed: int,
        previous: Mapping[str, Finished],
        in_place: bool,
        attempts: Mapping[str, int],
        observer: Observer | None,
    ) -> None:
        self.graph = graph
        self.recorder = recorder
        self.executor = executor
        self.clock = clock
        self.params = dict(params)
        self.seed = seed
        self.previous = previous
        self.in_place = in_place
        self.attempts = dict(attempts)
        self.observer = observer
        self.done: dict[str, str] = {}
        self.cached: list[str] = []
        self.resumed: list[str] = []
        self.failures: list[StepFailure] = []
        self._partitions: dict[str, list[tuple[Any, str]]] = {}
        self._shapes: dict[str, type] = {}

    def run(self) -> None:
        remaining = list(self.graph.steps)
        while remaining and not self.failures:
            ready = [name for name in remaining if all(up in self.done for up in self.graph.upstream[name])]
            tasks = [task for name in ready for task in self._plan(name)]
            self._execute(tasks)
            for name in ready:
                if name in self._partitions:
                    self._gather(name)
            remaining = [name for name in remaining if name not in ready]

    def _emit(self, kind: str, label: str, attempt: int = 0, error: str | None = None) -> None:
        if self.observer is not None:
            self.observer(StepEvent(kind, label, attempt, error))

    def _plan(self, name: str) -> list[_Task]:
        step = self.graph.steps[name]
        inputs = {up: self.done[up] for up in self.graph.upstream[name]}
        params = {k: self.params[k] for k in step.inputs if k in self.params}
        base: dict[str, Any] = {"code": step.fingerprint, "inputs": inputs, "params": params}
        if SEED in step.inputs and SEED not in self.graph.steps:
            base["seed"] = self.seed
        if step.over is None:
            key = sha256_json(base)
            if self._settled(name, key, step, inputs):
                return []
            return [_Task(name, step, self._kwargs(step), key, inputs)]
        collection = self._load(inputs[step.over]) if step.over in inputs else self.params[step.over]
        if not isinstance(collection, Mapping | list | tuple):
            raise PipelineDefinitionError(
                f"{step.where}: {name}.map(over={step.over!r}) needs a list or dict, but {step.over!r} is a "
                f"{type(collection).__name__}."
            )
        # A partition's key holds its own element, not the whole collection, so changing one partition
        # re-runs only that one.
        base["inputs"] = {k: v for k, v in inputs.items() if k != step.over}
        base["params"] = {k: v for k, v in params.items() if k != step.over}
        items = list(collection.items()) if isinstance(collection, Mapping) else list(enumerate(collection))
        self._shapes[name] = dict if isinstance(collection, Mapping) else list
        self._partitions[name] = []
        tasks = []
        shared = self._kwargs(step, skip=step.over)
        for key_of_item, element in items:
            label = f"{name}[{key_of_item}]"
            self._partitions[name].append((key_of_item, label))
            element_digest = sha256_bytes(pickle.dumps(element, protocol=PICKLE_PROTOCOL))
            key = sha256_json(base | {"partition": str(key_of_item), "element": element_digest})
            if not self._settled(label, key, step, inputs):
                tasks.append(_Task(label, step, shared | {step.over: element}, key, inputs))
        return tasks

    def _kwargs(self, step: Step, skip: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name in step.inputs:
            if name == skip:
                continue
            if name in self.graph.steps:
                kwargs[name] = self._load(self.done[name])
            elif name == SEED:
                kwargs[name] = self.seed
            else:
                kwargs[name] = self.params[name]
        return kwargs

    def _load(self, digest: str) -> Any:
        # Verified read: the store hashes the bytes and refuses them if they do not match the digest.
        return pickle.loads(self.recorder.store.get_bytes(digest))

    def _next_attempt(self, label: str) -> int:
        self.attempts[label] = self.attempts.get(label, 0) + 1
        return self.attempts[label]

    def _settled(self, label: str, key: str, step: Step, inputs: Mapping[str, str]) -> bool:
        """Whether ``label`` needs no execution: finished earlier in this run, or its output is cached."""
        earlier = self.previous.get(label)
        if earlier is not None and earlier.cache_key == key:
            if not self.in_place:
                self._record_reuse(label, key, inputs, earlier.digest, earlier.size)
            self.done[label] = earlier.digest
            self.resumed.append(label)
            self._emit("resumed", label)
            return True
        if not step.options.cache:
            return False
        hit = self.recorder.cached_output(key)
        if hit is None:
            return False
        self._record_reuse(label, key, inputs, *hit)
        self.done[label] = hit[0]
        self.cached.append(label)
        self._emit("cached", label)
        return True

    def _record_reuse(self, label: str, key: str, inputs: Mapping[str, str], digest: str, size: int) -> None:
        step_id = self.recorder.start_step(label, self._next_attempt(label), key)
        self.recorder.inputs(step_id, inputs)
        self.recorder.link_output(step_id, label, digest, size, cached=True)

    def _execute(self, tasks: list[_Task]) -> None:
        while tasks:
            again: list[_Task] = []
            waiting: dict[Future[Outcome], _Task] = {}
            for task in tasks:
                future = self._submit(task)
                # Record what is already done (everything, on the inline executor) before starting more,
                # so a crash loses as little finished work as possible.
                if future.done():
                    again += [] if self._settle(task) else [task]
                else:
                    waiting[future] = task
            for future in as_completed(waiting):
                task = waiting[future]
                again += [] if self._settle(task) else [task]
            if again:
                backoff = max(t.step.options.backoff * 2 ** (t.tries - 1) for t in again)
                if backoff > 0:
                    self.clock.sleep(backoff)
            tasks = again

    def _submit(self, task: _Task) -> Future[Outcome]:
        task.attempt = self._next_attempt(task.label)
        task.tries += 1
        task.step_id = self.recorder.start_step(task.label, task.attempt, task.cache_key)
        self.recorder.inputs(task.step_id, task.inputs)
        self._emit("started", task.label, task.attempt)
        options = task.step.options
        task.future = self.executor.submit(
            call_step, task.step, task.label, task.kwargs, timeout=options.timeout, resources=options.resources or None
        )
        return task.future

    def _settle(self, task: _Task) -> bool:
        """Record how ``task``'s attempt ended; False when it failed and will be tried again."""
        assert task.future is not None
        try:
            outcome = task.future.result()
        except Exception as exc:  # the executor failed (a timeout, a dead worker), not the user's code
            outcome = Outcome(None, failure_of(task.label, exc))
        if outcome.data is not None:
            self.done[task.label] = self.recorder.output(task.step_id, task.label, outcome.data)
            self._emit("finished", task.label, task.attempt)
            return True
        failure = outcome.failure or StepFailure(task.label, "RuntimeError", "no output and no error", "")
        self.recorder.failed(task.step_id, failure.traceback or str(failure))
        if task.tries <= task.step.options.retries:
            self._emit("retrying", task.label, task.attempt, str(failure))
            return False
        self.failures.append(failure)
        self._emit("failed", task.label, task.attempt, str(failure))
        return True

    def _gather(self, name: str) -> None:
        partitions = self._partitions[name]
        failed = [label for _, label in partitions if label not in self.done]
        step = self.graph.steps[name]
        if failed:
            step_id = self.recorder.start_step(name, self._next_attempt(name), None)
            self.recorder.failed(step_id, f"{len(failed)} of {len(partitions)} partitions failed: {', '.join(failed)}")
            self._emit("failed", name)
            return
        inputs = {label: self.done[label] for _, label in partitions}
        pairs = [[str(k), self.done[label]] for k, label in partitions]
        key = sha256_json({"code": step.fingerprint, "gather": pairs})
        if self._settled(name, key, step, inputs):
            return
        values = [(k, self._load(self.done[label])) for k, label in partitions]
        gathered: Any = dict(values) if self._shapes[name] is dict else [v for _, v in values]
        step_id = self.recorder.start_step(name, self._next_attempt(name), key)
        self.recorder.inputs(step_id, inputs)
        self.done[name] = self.recorder.output(step_id, name, pickle.dumps(gathered, protocol=PICKLE_PROTOCOL))
        self._emit("finished", name, self.attempts[name])
