"""A training killed with SIGKILL mid-way resumes from its FileCheckpointer and ends with the model an
uninterrupted training makes: identical predictions and probabilities."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ctml.clock import WallClock
from ctml.flavors import FileCheckpointer

from . import checkpoint_child, elec2

CHILD = Path(checkpoint_child.__file__)
TOTAL = {"torch": 12, "lightgbm": 60}


@pytest.mark.skipif(not elec2.available(), reason="needs /work/shared/datasets/elec2")
@pytest.mark.parametrize("kind", ["torch", "lightgbm"])
def test_resume_after_sigkill(kind: str, tmp_path: Path) -> None:
    pytest.importorskip(kind)
    path = tmp_path / "train.ckpt"
    child = subprocess.Popen([sys.executable, str(CHILD), kind, str(path)], stderr=subprocess.PIPE)
    clock = WallClock()
    deadline = clock.monotonic() + 60
    progress = 0
    try:
        while progress < 2:
            assert child.poll() is None, f"the training ended before it was killed: {child.stderr.read()!r}"  # type: ignore[union-attr]
            assert clock.monotonic() < deadline, "no checkpoint with progress >= 2 within 60 s"
            saved = FileCheckpointer(path).load()
            progress = 0 if saved is None else saved[0]
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
        child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    saved = FileCheckpointer(path).load()
    assert saved is not None
    assert 2 <= saved[0] < TOTAL[kind], saved

    resumed = checkpoint_child.train(kind, FileCheckpointer(path))
    uninterrupted = checkpoint_child.train(kind, FileCheckpointer(tmp_path / "whole.ckpt"))
    X, _, _ = elec2.classification(400)
    assert np.array_equal(resumed.predict(X), uninterrupted.predict(X))
    assert np.array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))
    final = FileCheckpointer(path).load()
    assert final is not None
    assert final[0] == TOTAL[kind]
