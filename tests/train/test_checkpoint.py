"""StoreCheckpointer: state in the artifact store, pointer in a run tag; a training SIGKILLed mid-way resumes
through ``train(...)`` in another process and ends with the model an uninterrupted training makes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ctml.clock import WallClock
from ctml.errors import ConfigError, CorruptArtifactError
from ctml.flavors import Checkpointer
from ctml.meta import MetaStore, open_meta
from ctml.store import LocalArtifactStore, open_store
from ctml.train import FullHistory, StoreCheckpointer, train

from . import checkpoint_child

CHILD = Path(checkpoint_child.__file__)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[MetaStore, LocalArtifactStore, str]:
    meta = open_meta(f"sqlite:///{tmp_path}/meta.db")
    store = open_store(str(tmp_path / "artifacts"))
    assert isinstance(store, LocalArtifactStore)
    yield meta, store, meta.runs.create("train")  # type: ignore[misc]
    meta.close()


def _objects(store: LocalArtifactStore) -> int:
    return sum(1 for p in Path(store.url.removeprefix("file://")).rglob("*") if p.is_file())


def test_it_is_a_checkpointer_that_keeps_only_the_latest_state(
    stores: tuple[MetaStore, LocalArtifactStore, str],
) -> None:
    meta, store, run_id = stores
    checkpoint = StoreCheckpointer(store, meta, run_id, "fit")
    assert isinstance(checkpoint, Checkpointer)
    assert checkpoint.load() is None
    for progress in (1, 2, 3):
        checkpoint.save(progress, f"state {progress}".encode())
    assert StoreCheckpointer(store, meta, run_id, "fit").load() == (3, b"state 3")
    assert StoreCheckpointer(store, meta, run_id, "other").load() is None
    assert _objects(store) == 1
    pointer = json.loads(meta.runs.get(run_id).tags["ctml.checkpoint.fit"])
    assert pointer["progress"] == 3
    assert store.get_bytes(pointer["sha256"]) == b"state 3"


def test_a_tampered_state_is_refused(stores: tuple[MetaStore, LocalArtifactStore, str]) -> None:
    meta, store, run_id = stores
    checkpoint = StoreCheckpointer(store, meta, run_id, "fit")
    checkpoint.save(1, b"good state")
    pointer = checkpoint.pointer()
    assert pointer is not None
    path = next(p for p in Path(store.url.removeprefix("file://")).rglob(str(pointer["sha256"])))
    path.chmod(0o644)
    path.write_bytes(b"evil state")
    with pytest.raises(CorruptArtifactError):
        checkpoint.load()
    meta.runs.log(run_id, tags={"ctml.checkpoint.bad": "not json"})
    with pytest.raises(ConfigError, match="is not a checkpoint pointer"):
        StoreCheckpointer(store, meta, run_id, "bad").load()


def test_a_finished_checkpoint_rebuilds_the_model_without_training(
    stores: tuple[MetaStore, LocalArtifactStore, str],
) -> None:
    pytest.importorskip("lightgbm")
    meta, store, run_id = stores
    first = checkpoint_child.fit("lightgbm", StoreCheckpointer(store, meta, run_id, "fit"))
    again = checkpoint_child.fit("lightgbm", StoreCheckpointer(store, meta, run_id, "fit"))
    assert first.to_bytes() == again.to_bytes()
    assert StoreCheckpointer(store, meta, run_id, "fit").load()[0] == 60  # type: ignore[index]


def test_a_checkpoint_of_another_training_is_refused(stores: tuple[MetaStore, LocalArtifactStore, str]) -> None:
    pytest.importorskip("lightgbm")
    meta, store, run_id = stores
    checkpoint_child.fit("lightgbm", StoreCheckpointer(store, meta, run_id, "fit"))
    other = checkpoint_child.data().slice(0, 300)
    with pytest.raises(ConfigError, match="saved by another training"):
        train(
            FullHistory(),
            checkpoint_child.estimator("lightgbm"),
            other,
            seed=5,
            checkpoint=StoreCheckpointer(store, meta, run_id, "fit"),
        )


@pytest.mark.parametrize("kind", ["torch", "lightgbm"])
def test_resume_after_sigkill(kind: str, tmp_path: Path) -> None:
    pytest.importorskip(kind)
    meta_url, store_path = f"sqlite:///{tmp_path}/meta.db", str(tmp_path / "artifacts")
    with open_meta(meta_url) as meta:
        run_id = meta.runs.create("train")
        store = open_store(store_path)
        watch = StoreCheckpointer(store, meta, run_id, "fit")
        child = subprocess.Popen(
            [sys.executable, str(CHILD), kind, meta_url, store_path, run_id], stderr=subprocess.PIPE
        )
        clock = WallClock()
        deadline = clock.monotonic() + 90
        progress = 0
        try:
            while progress < 2:
                assert child.poll() is None, f"the training ended before it was killed: {child.stderr.read()!r}"  # type: ignore[union-attr]
                assert clock.monotonic() < deadline, "no checkpoint with progress >= 2 within 90 s"
                pointer = watch.pointer()
                progress = 0 if pointer is None else int(pointer["progress"])
                time.sleep(0.02)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait()
            child.stderr.close()  # type: ignore[union-attr]
        assert child.returncode == -signal.SIGKILL
        saved = watch.load()
        assert saved is not None
        assert 2 <= saved[0] < checkpoint_child.TOTAL[kind], saved

        resumed = checkpoint_child.fit(kind, StoreCheckpointer(store, meta, run_id, "fit"))
        uninterrupted = checkpoint_child.fit(kind, StoreCheckpointer(store, meta, run_id, "whole"))
        X = checkpoint_child.data().X
        assert np.array_equal(resumed.predict(X), uninterrupted.predict(X))
        assert np.array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))
        final = watch.load()
        assert final is not None
        assert final[0] == checkpoint_child.TOTAL[kind]
