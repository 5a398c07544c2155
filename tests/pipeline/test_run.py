"""Running pipelines: what each run records, caching, retries, failures and fan-out."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import pytest

from ctml.clock import SimulatedClock
from ctml.errors import ConfigError
from ctml.meta import MetaStore, Node
from ctml.pipeline import Pipeline, PipelineDefinitionError, PipelineRunError, StepEvent, step
from ctml.store import ArtifactStore

from ._flows import CRASHY


def test_a_run_records_steps_params_environment_and_lineage(meta: MetaStore, artifacts: ArtifactStore) -> None:
    result = CRASHY.run(meta, artifacts, params={"scale": 3}, seed=11)
    assert result.load("report") == "p0=18,p1=30,p2=42;seed=11"
    assert result.load("fit") == {"p0": 18, "p1": 30, "p2": 42}
    run = meta.runs.get(result.run_id)
    assert (run.status, run.kind, run.seed, run.params) == ("finished", "pipeline", 11, {"scale": "3", "size": "4"})
    assert run.environment is not None
    assert "python" in run.environment
    assert run.code_fingerprint == CRASHY.fingerprint
    steps = meta.steps.list(result.run_id)
    assert sorted(s.name for s in steps) == ["fit", "fit[p0]", "fit[p1]", "fit[p2]", "report", "source"]
    assert all(s.status == "finished" and not s.cached and s.cache_key for s in steps)
    outputs = {a.name: a.digest for a in meta.artifacts.list(run_id=result.run_id) if a.step_id}
    assert outputs["report"] == result.outputs["report"]
    report_step = next(s for s in steps if s.name == "report")
    upstream = meta.lineage.upstream(Node("step", report_step.id), depth=1)
    assert {(str(e.src), e.relation) for e in upstream} == {
        (f"artifact:{result.outputs['fit']}", "input"),
        (f"run:{result.run_id}", "step"),
    }


def test_unchanged_steps_are_cache_hits(meta: MetaStore, artifacts: ArtifactStore) -> None:
    first = CRASHY.run(meta, artifacts)
    again = CRASHY.run(meta, artifacts)
    assert again.outputs == first.outputs
    assert sorted(again.cached) == ["fit", "fit[p0]", "fit[p1]", "fit[p2]", "report", "source"]
    assert all(s.cached for s in meta.steps.list(again.run_id))
    changed = CRASHY.run(meta, artifacts, params={"scale": 5})
    assert changed.cached == ["source"], "a changed param re-runs only the steps that take it, and what follows"
    reseeded = CRASHY.run(meta, artifacts, seed=1)
    assert "report" not in reseeded.cached
    assert "fit" in reseeded.cached


def test_cache_opt_out(meta: MetaStore, artifacts: ArtifactStore) -> None:
    calls: list[int] = []

    @step(cache=False)
    def stamp() -> int:
        calls.append(1)
        return 1

    flow = Pipeline([stamp])
    flow.run(meta, artifacts)
    assert flow.run(meta, artifacts).cached == []
    assert len(calls) == 2


def test_retries_back_off_and_failures_keep_the_traceback(meta: MetaStore, artifacts: ArtifactStore) -> None:
    attempts: list[int] = []

    @step(retries=2, backoff=1.5)
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"try {len(attempts)}")
        return len(attempts)

    clock = SimulatedClock(meta.clock.now())
    result = Pipeline([flaky]).run(meta, artifacts, clock=clock)
    assert result.load("flaky") == 3
    rows = meta.steps.list(result.run_id)
    assert [(s.attempt, s.status) for s in rows] == [(1, "failed"), (2, "failed"), (3, "finished")]
    assert rows[0].error is not None
    assert "ConnectionError: try 1" in rows[0].error
    assert "in flaky" in rows[0].error
    events: list[StepEvent] = []

    @step(retries=1)
    def broken() -> int:
        raise ValueError("bad column 'x'")

    with pytest.raises(PipelineRunError, match="broken: ValueError: bad column 'x'") as raised:
        Pipeline([broken]).run(meta, artifacts, observer=events.append)
    run = meta.runs.get(raised.value.run_id)
    assert run.status == "failed"
    assert run.error is not None
    assert 'raise ValueError("bad column' in run.error, "the run's error keeps the user's source line"
    assert [e.kind for e in events] == ["started", "retrying", "started", "failed"]


def test_backoff_waits_on_the_injected_clock(meta: MetaStore, artifacts: ArtifactStore) -> None:
    tries: list[float] = []
    clock = SimulatedClock(meta.clock.now())

    @step(retries=2, backoff=2.0)
    def wobbly() -> int:
        tries.append(clock.monotonic())
        if len(tries) < 3:
            raise OSError("again")
        return 0

    Pipeline([wobbly]).run(meta, artifacts, clock=clock)
    assert [b - a for a, b in itertools.pairwise(tries)] == [2.0, 4.0]


def test_unserialisable_output_is_a_clear_step_failure(meta: MetaStore, artifacts: ArtifactStore) -> None:
    @step
    def handle() -> Any:
        return lambda: 1

    with pytest.raises(PipelineRunError, match="UnserialisableOutputError") as raised:
        Pipeline([handle]).run(meta, artifacts)
    assert "cannot be serialised with pickle" in str(raised.value.failures[0].message)
    assert "test_run.py" in raised.value.failures[0].message


def test_a_failed_partition_keeps_the_others(meta: MetaStore, artifacts: ArtifactStore) -> None:
    @step
    def cities() -> dict[str, int]:
        return {"paris": 1, "lima": 0, "oslo": 2}

    @step
    def train(cities: int) -> float:
        return 1 / cities

    flow = Pipeline([cities, train.map(over="cities")])
    with pytest.raises(PipelineRunError) as raised:
        flow.run(meta, artifacts)
    assert [f.step for f in raised.value.failures] == ["train[lima]"]
    rows = {s.name: s for s in meta.steps.list(raised.value.run_id)}
    assert rows["train[paris]"].status == rows["train[oslo]"].status == "finished"
    assert rows["train"].status == "failed"
    assert rows["train"].error == "1 of 3 partitions failed: train[lima]"
    assert rows["train[lima]"].error is not None
    assert "ZeroDivisionError" in rows["train[lima]"].error
    # Resuming the failed run starts a child run that reuses the partitions that finished.
    with pytest.raises(PipelineRunError) as again:
        flow.resume(meta, artifacts, raised.value.run_id)
    child = meta.runs.get(again.value.run_id)
    assert child.parent_id == raised.value.run_id
    reused = {s.name for s in meta.steps.list(child.id) if s.cached}
    assert reused == {"cities", "train[paris]", "train[oslo]"}


def test_mapping_over_a_list_gathers_a_list(meta: MetaStore, artifacts: ArtifactStore) -> None:
    @step
    def square(x: int) -> int:
        return x * x

    flow = Pipeline([square.map(over="x")], params={"x": ...})
    assert flow.run(meta, artifacts, params={"x": [1, 2, 3]}).load("square") == [1, 4, 9]
    changed = flow.run(meta, artifacts, params={"x": [1, 2, 5]})
    assert changed.load("square") == [1, 4, 25]
    assert changed.cached == ["square[0]", "square[1]"], "only the changed partition runs again"
    with pytest.raises(PipelineDefinitionError, match=r"square.map\(over='x'\) needs a list or dict, but 'x' is a int"):
        flow.run(meta, artifacts, params={"x": 3})
    assert meta.runs.search("status = 'failed'")[0].error is not None


def test_params_are_checked_at_run_time(meta: MetaStore, artifacts: ArtifactStore) -> None:
    @step
    def load(path: str) -> str:
        return path

    flow = Pipeline([load], params={"path": ...})
    with pytest.raises(PipelineDefinitionError, match=r"Param 'path' has no value.*--param NAME=VALUE"):
        flow.run(meta, artifacts)
    with pytest.raises(PipelineDefinitionError, match=r"Unknown pipeline param 'pth'.*Did you mean 'path'"):
        flow.run(meta, artifacts, params={"path": "a", "pth": "b"})
    with pytest.raises(ConfigError, match="recorded as JSON"):
        flow.run(meta, artifacts, params={"path": object()})


def test_outputs_are_read_back_verified(meta: MetaStore, artifacts: ArtifactStore) -> None:
    result = CRASHY.run(meta, artifacts)
    assert pickle.loads(artifacts.get_bytes(result.outputs["source"])) == result.load("source")
    with pytest.raises(ConfigError, match="has no output 'nope'"):
        result.load("nope")
