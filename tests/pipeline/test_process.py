"""The same pipeline on the process pool: identical outputs, enforced timeouts, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctml.exec import ProcessExecutor
from ctml.meta import MetaStore, open_meta
from ctml.pipeline import Pipeline, PipelineDefinitionError, PipelineRunError, step
from ctml.store import ArtifactStore, open_store

from ._flows import CRASHY, FRAGILE, SLOW


def test_process_pool_gives_the_same_outputs_as_inline(
    meta: MetaStore, artifacts: ArtifactStore, tmp_path: Path
) -> None:
    inline = CRASHY.run(meta, artifacts, params={"size": 5})
    with open_meta(f"sqlite:///{tmp_path}/other.db") as other, ProcessExecutor(workers=2) as pool:
        pooled = CRASHY.run(other, open_store(str(tmp_path / "other")), params={"size": 5}, executor=pool)
    assert pooled.outputs == inline.outputs
    assert pooled.cached == []


def test_a_timeout_stops_the_step_and_is_recorded(meta: MetaStore, artifacts: ArtifactStore) -> None:
    with pytest.raises(PipelineRunError, match="slow: TaskTimeoutError") as raised:
        SLOW.run(meta, artifacts, executor="process://?workers=1")
    (row,) = meta.steps.list(raised.value.run_id)
    assert row.status == "failed"
    assert row.error is not None
    assert "timeout of 0.5 s" in row.error


def test_steps_that_cannot_be_imported_are_refused_before_running(meta: MetaStore, artifacts: ArtifactStore) -> None:
    @step
    def local() -> int:
        return 1

    with pytest.raises(PipelineDefinitionError, match=r"test_process.py:\d+: step 'local' cannot run in another"):
        Pipeline([local]).run(meta, artifacts, executor="process://?workers=1")
    assert meta.runs.search("") == [], "nothing is recorded for a pipeline that cannot start"


def test_a_killed_worker_is_retried_on_a_fresh_pool(meta: MetaStore, artifacts: ArtifactStore, tmp_path: Path) -> None:
    result = FRAGILE.run(meta, artifacts, params={"marker": str(tmp_path / "died")}, executor="process://?workers=1")
    assert result.load("fragile") == "survived"
    rows = meta.steps.list(result.run_id)
    assert [(s.attempt, s.status) for s in rows] == [(1, "failed"), (2, "finished")]
    assert rows[0].error is not None
    assert "BrokenProcessPool" in rows[0].error
