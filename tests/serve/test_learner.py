"""A server that learns from feedback: killed with SIGKILL, it resumes from its last snapshot and re-learns the
labels logged since, so that the model it ends with is the model an uninterrupted learner ends with."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from ctml.flavors import Model, fit_model
from ctml.flavors._signature import encode_labels
from ctml.meta import open_meta
from ctml.registry import ModelRegistry
from ctml.store import open_store

from .models import FEATURES, elec2, free_port
from .test_live import _wait_ready

pytest.importorskip("river")

CHILD = Path(__file__).with_name("learner_child.py")
FIRST, BATCH, EVERY = 200, 15, 40


def _start(meta_url: str, artifacts: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, str(CHILD), meta_url, artifacts, str(port), str(EVERY)], env=env)
    _wait_ready(f"http://127.0.0.1:{port}")
    return child


def _predict_then_label(port: int, start: int, batches: int) -> int:
    """Rows ``start...`` in requests of BATCH: each is answered, then its labels are sent (test-then-train)."""
    X, y = elec2()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for b in range(batches):
            rows = range(start + b * BATCH, start + (b + 1) * BATCH)
            body = {"rows": [dict(zip(FEATURES, X[i].tolist(), strict=True)) for i in rows]}
            answer = client.post("/v1/apps/online/predict", json=body)
            assert answer.status_code == 200, answer.text
            labels = [{"id": pid, "label": str(y[i])} for pid, i in zip(answer.json()["ids"], rows, strict=True)]
            fed = client.post("/v1/apps/online/feedback", json={"labels": labels})
            assert fed.status_code == 200, fed.text
            assert fed.json()["accepted"] == BATCH
    return start + batches * BATCH


def test_a_killed_learner_resumes_from_its_snapshot_learning_every_label_once(tmp_path: Path) -> None:
    from river.tree import HoeffdingTreeClassifier

    meta_url, artifacts = f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "artifacts")
    X, y = elec2()

    def fresh() -> Model:  # the registered version, as it was before it learned anything
        return fit_model(HoeffdingTreeClassifier(grace_period=20), X[:FIRST], y[:FIRST], feature_names=FEATURES, seed=0)

    first = fresh()
    meta = open_meta(meta_url)
    registry = ModelRegistry(meta, open_store(artifacts), actor="test")
    registry.register("online", first.to_bytes(), flavor="river")
    registry.promote("online", 1)

    port = free_port()
    child = _start(meta_url, artifacts, port)
    try:
        upto = _predict_then_label(port, FIRST, 10)  # 150 labels: snapshots after 45, 90 and 135
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    before = meta.snapshots.latest("online", "online", 1)
    assert before is not None
    assert before.labels == 135  # the last 15 labels were learned, never snapshotted

    child = _start(meta_url, artifacts, port)  # restores the snapshot, re-learns those 15 from the log
    try:
        upto = _predict_then_label(port, upto, 10)
        child.send_signal(signal.SIGTERM)  # a clean stop snapshots what was learned since the last snapshot
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    last = meta.snapshots.latest("online", "online", 1)
    assert last is not None
    assert last.labels == upto - FIRST == 300  # none learned twice, none skipped
    seqs = [s.seq for s in meta.snapshots.list("online", "online", 1)]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    assert len(seqs) >= 7

    resumed = Model.from_bytes(open_store(artifacts).get_bytes(last.digest), digest=last.digest)
    reference = fresh()  # what an uninterrupted learner of the same labels ends with
    once = np.r_[FIRST:upto]
    reference.learn(X[once], encode_labels(reference.signature, np.asarray(y[once], dtype=object)))
    probe = X[upto : upto + 300]
    assert np.array_equal(resumed.predict_proba(probe), reference.predict_proba(probe))
    once_more = fresh()  # and a label learned twice would show
    twice = np.r_[FIRST:upto, upto - BATCH : upto]
    once_more.learn(X[twice], encode_labels(once_more.signature, np.asarray(y[twice], dtype=object)))
    assert not np.array_equal(resumed.predict_proba(probe), once_more.predict_proba(probe))
    meta.close()


def test_a_server_that_does_not_learn_serves_the_owners_newest_snapshot(tmp_path: Path) -> None:
    """Several workers: one owns the updates (``learn=True``), the others (``learn=False``) learn nothing and
    reload the owner's newest snapshot when their watcher polls."""
    from river.tree import HoeffdingTreeClassifier
    from starlette.testclient import TestClient

    from ctml.serve import AppSpec, ModelServer, ServeConfig

    X, y = elec2()
    meta = open_meta(f"sqlite:///{tmp_path / 'meta.db'}")
    registry = ModelRegistry(meta, open_store(str(tmp_path / "artifacts")), actor="test")
    first = fit_model(HoeffdingTreeClassifier(grace_period=20), X[:FIRST], y[:FIRST], feature_names=FEATURES, seed=0)
    registry.register("online", first.to_bytes(), flavor="river")
    registry.promote("online", 1)
    apps = [AppSpec("online", "online")]
    owner = ModelServer(ServeConfig(apps, poll_s=3600, snapshot_labels=EVERY, snapshot_s=3600), registry)
    follower = ModelServer(ServeConfig(apps, poll_s=3600, learn=False), registry)
    probe = {"rows": [dict(zip(FEATURES, X[i].tolist(), strict=True)) for i in range(700, 1000)]}
    with TestClient(owner.app) as lead, TestClient(follower.app) as other:
        owner.watcher.poll()  # loaded now, not in the background
        follower.watcher.poll()
        first_answer = other.post("/v1/apps/online/predict", json=probe)
        assert first_answer.status_code == 200, first_answer.text
        before = first_answer.json()["probabilities"]
        for b in range(6):  # 90 labels to the owner, which learns them
            rows = range(FIRST + b * BATCH, FIRST + (b + 1) * BATCH)
            body = {"rows": [dict(zip(FEATURES, X[i].tolist(), strict=True)) for i in rows]}
            answer = lead.post("/v1/apps/online/predict", json=body)
            labels = [{"id": p, "label": str(y[i])} for p, i in zip(answer.json()["ids"], rows, strict=True)]
            assert lead.post("/v1/apps/online/feedback", json={"labels": labels}).json()["accepted"] == BATCH
        latest = meta.snapshots.latest("online", "online", 1)
        assert latest is not None
        assert latest.labels == 6 * BATCH  # the owner snapshotted after 45 and 90 labels
        assert other.post("/v1/apps/online/predict", json=probe).json()["probabilities"] == before  # not yet polled
        assert follower.watcher.poll() == 1  # a newer snapshot: reloaded
        assert follower.watcher.poll() == 0  # nothing newer: nothing to do
        after = other.post("/v1/apps/online/predict", json=probe).json()["probabilities"]
    snapshot = Model.from_bytes(open_store(str(tmp_path / "artifacts")).get_bytes(latest.digest), digest=latest.digest)
    assert np.allclose(after, snapshot.predict_proba(X[700:1000]))  # the owner's learned state, served here
    assert np.allclose(before, first.predict_proba(X[700:1000]))  # the registered artifact, before
    assert not np.allclose(after, before)
    assert follower.learners.stats == {}  # it learned nothing itself
    meta.close()
