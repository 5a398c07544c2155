"""Crash tests: a pipeline process SIGKILLed at each step boundary and in the middle of each step resumes
and produces outputs identical (same digests) to an uninterrupted run, with no duplicate records."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ctml.meta import open_meta
from ctml.store import open_store

from ._flows import CRASHY

TESTS = Path(__file__).resolve().parents[1]
LABELS = ["source", "fit[p0]", "fit[p1]", "fit[p2]", "fit", "report"]


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("baseline")
    with open_meta(f"sqlite:///{home}/meta.db") as meta:
        return CRASHY.run(meta, open_store(str(home / "artifacts")), seed=7).outputs


@pytest.mark.parametrize(
    ("variable", "label"),
    [("CTML_TEST_KILL_IN", label) for label in ("source", "fit[p1]", "report")]
    + [("CTML_TEST_KILL_AFTER", label) for label in ("source", "fit[p0]", "fit", "report")],
)
def test_killed_run_resumes_to_identical_outputs(
    variable: str, label: str, expected: dict[str, str], tmp_path: Path
) -> None:
    env = dict(os.environ, PYTHONPATH=f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **{variable: label})
    done = subprocess.run(
        [sys.executable, "-c", "from pipeline._flows import main; main()", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -9, f"the pipeline process should have been killed: {done.stderr[-2000:]}"
    with open_meta(f"sqlite:///{tmp_path}/meta.db") as meta:
        (run,) = meta.runs.search("")
        assert run.status == "running"
        before = {s.name for s in meta.steps.list(run.id) if s.status == "finished"}
        result = CRASHY.resume(meta, open_store(str(tmp_path / "artifacts")), run.id)
        assert result.run_id == run.id
        assert result.outputs == expected
        assert set(result.resumed) == before, "finished steps are reused, not run again"
        assert meta.runs.get(run.id).status == "finished"
        steps = meta.steps.list(run.id)
        finished = Counter(s.name for s in steps if s.status == "finished")
        assert finished == Counter(LABELS), "each step finished exactly once"
        outputs = Counter(a.name for a in meta.artifacts.list(run_id=run.id) if a.step_id)
        assert outputs == Counter(LABELS), "each step output is recorded exactly once"
        killed = [s.name for s in steps if s.status == "killed"]
        assert killed == ([label] if variable == "CTML_TEST_KILL_IN" else [])
        assert all(s.status != "running" for s in steps)
        again = CRASHY.resume(meta, open_store(str(tmp_path / "artifacts")), run.id)
        assert again.outputs == expected
        assert len(meta.steps.list(run.id)) == len(steps)
