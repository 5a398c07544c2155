"""ctml.tracking over a real SQLite store and a local artifact store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ctml.errors import ConfigError, ConflictError
from ctml.hashing import sha256_bytes
from ctml.meta import MetaStore, Metric, Node
from ctml.store import ArtifactStore, open_store
from ctml.tracking import ActiveRun, Tracker


@pytest.fixture
def tracker(meta: MetaStore, artifacts: ArtifactStore) -> Tracker:
    return Tracker(meta, artifacts, actor="ana")


def test_context_manager_finishes_the_run(tracker: Tracker) -> None:
    with tracker.start_run("train", app="churn", params={"alpha": 0.5}, tags={"team": "risk"}, seed=3) as run:
        run.log_metrics({"accuracy": 0.91, "f1": 0.88}, step=1)
        run.log_metric("accuracy", 0.93, step=2)
        run.log_param("depth", 4)
        run.set_tags({"stage": "dev"})
        run.log_batch(params={"lr": 0.1}, metrics=[Metric("loss", 0.4, 0), Metric("loss", 0.3, 1)], tags={"x": "y"})
    stored = tracker.get_run(run.id)
    assert (stored.status, stored.actor, stored.app, stored.seed, stored.error) == ("finished", "ana", "churn", 3, None)
    assert stored.ended_at is not None
    assert stored.params == {"alpha": "0.5", "depth": "4", "lr": "0.1"}
    assert stored.metrics == {"accuracy": 0.93, "f1": 0.88, "loss": 0.3}
    assert stored.tags == {"team": "risk", "stage": "dev", "x": "y"}
    assert [r.id for r in tracker.search_runs("metrics.accuracy > 0.92 and params.depth = 4")] == [run.id]


def test_exception_marks_the_run_failed_with_its_traceback(tracker: Tracker) -> None:
    def train(run: ActiveRun) -> None:
        run.log_metric("loss", 0.7)
        raise ValueError("labels are all one class")

    with pytest.raises(ValueError, match="all one class"), tracker.start_run("train", capture=False) as run:
        train(run)
    stored = tracker.get_run(run.id)
    assert stored.status == "failed"
    assert stored.error is not None
    assert stored.error.startswith("Traceback (most recent call last)")
    assert "ValueError: labels are all one class" in stored.error
    assert "in train" in stored.error, "the traceback must reach into the user's function"
    assert stored.metrics == {"loss": 0.7}, "what was logged before the failure is kept"


def test_keyboard_interrupt_marks_the_run_killed(tracker: Tracker) -> None:
    with pytest.raises(KeyboardInterrupt), tracker.start_run("train", capture=False) as run:
        raise KeyboardInterrupt
    stored = tracker.get_run(run.id)
    assert (stored.status, stored.error) == ("killed", "interrupted")


def test_explicit_finish_inside_the_block_is_not_repeated(tracker: Tracker) -> None:
    with tracker.start_run("train", capture=False) as run:
        run.finish("killed", "stopped by the user")
    stored = tracker.get_run(run.id)
    assert (stored.status, stored.error) == ("killed", "stopped by the user")
    with pytest.raises(ConflictError):
        run.log_metric("late", 1.0)


def test_params_stay_write_once_through_the_tracker(tracker: Tracker) -> None:
    with tracker.start_run("train", params={"alpha": 0.5}, capture=False) as run:
        run.log_param("alpha", 0.5)
        with pytest.raises(ConflictError, match="alpha"):
            run.log_param("alpha", 0.9)
    assert tracker.get_run(run.id).params == {"alpha": "0.5"}


def test_capture_records_environment_and_code(tracker: Tracker) -> None:
    with tracker.start_run("train", code_fingerprint="f" * 64) as run:
        pass
    stored = tracker.get_run(run.id)
    assert stored.environment is not None
    assert stored.environment["python"] == sys.version.split()[0]
    packages = stored.environment["packages"]
    assert isinstance(packages, dict)
    assert "numpy" in packages
    assert stored.code_fingerprint == "f" * 64
    assert stored.git_commit is None or len(stored.git_commit) == 40
    with tracker.start_run("quiet", capture=False) as quiet:
        pass
    assert tracker.get_run(quiet.id).environment is None


def test_artifacts_are_stored_verified_and_linked(tracker: Tracker, artifacts: ArtifactStore, tmp_path: Path) -> None:
    model_file = tmp_path / "model.bin"
    model_file.write_bytes(b"\x00weights" * 1000)
    with tracker.start_run("train", capture=False) as run:
        ref = run.log_artifact("notes.txt", b"hello", media_type="text/plain")
        file_ref = run.log_artifact("model.bin", model_file)
    assert (ref.name, ref.digest, ref.size, ref.media_type, ref.run_id) == (
        "notes.txt",
        sha256_bytes(b"hello"),
        5,
        "text/plain",
        run.id,
    )
    assert artifacts.get_bytes(ref.digest) == b"hello"
    assert artifacts.get_bytes(file_ref.digest) == model_file.read_bytes()
    assert file_ref.size == model_file.stat().st_size
    listed = {r.name: r.digest for r in tracker.meta.artifacts.list(run_id=run.id)}
    assert listed == {"notes.txt": ref.digest, "model.bin": file_ref.digest}
    outputs = {(e.dst, e.relation) for e in tracker.meta.lineage.downstream(Node("run", run.id))}
    assert outputs == {(Node("artifact", ref.digest), "output"), (Node("artifact", file_ref.digest), "output")}


def test_artifact_errors(meta: MetaStore, tmp_path: Path) -> None:
    with Tracker(meta).start_run("train", capture=False) as run, pytest.raises(ConfigError, match="no artifact store"):
        run.log_artifact("x", b"data")
    tracker = Tracker(meta, open_store(str(tmp_path / "artifacts")))
    with tracker.start_run("train", capture=False) as run, pytest.raises(ConfigError, match="is not a file"):
        run.log_artifact("x", tmp_path / "missing.bin")
    assert tracker.get_run(run.id).status == "finished", "the error was handled inside the block"
    assert tracker.meta.artifacts.list(run_id=run.id) == []
