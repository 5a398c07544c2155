"""A writer killed with SIGKILL in the middle of a big transaction leaves the store intact.

The writer is a separate interpreter logging one large batch (params, 100k metric points, tags: one
transaction). Instrumentation inside it tells the parent when it is mid-transaction and then freezes it there;
the parent kills it with SIGKILL. Afterwards the store opens, SQLite's integrity check passes, nothing of the
batch is visible, and new writes (to the same run, and alias moves) succeed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from ctml.meta import Metric, open_meta

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

POINTS = 100_000

# argv: url, run id, ready-file, mode. Modes: "statement" freezes inside the metrics INSERT (SQLite: a progress
# handler, with a tiny page cache so uncommitted pages spill into the WAL first); "insert" freezes right after
# the INSERT of every point has run, before the commit.
WRITER = r"""
import os, sys, time
from pathlib import Path
from sqlalchemy import event
from ctml.meta import Metric, open_meta

url, run_id, ready, mode = sys.argv[1:5]
store = open_meta(url)

running = [""]
sqlite = url.startswith("sqlite")


def remember(statement):
    running[0] = " ".join(statement.split()[:3])


def freeze():
    Path(ready + ".tmp").write_text(running[0])
    os.replace(ready + ".tmp", ready)  # the parent never sees a half-written file
    time.sleep(600)


# SQLite's bulk statements go straight to the driver, so SQLite is watched through the driver's trace callback
# (it sees every statement, row by row); PostgreSQL through SQLAlchemy's cursor events.
if mode == "statement":
    calls = [0]

    def progress():
        calls[0] += 1
        if calls[0] == 1500:  # about half way through the metrics INSERT
            freeze()
        return 0

    @event.listens_for(store.engine, "begin")
    def arm(conn):
        driver = conn.connection.driver_connection
        driver.execute("PRAGMA cache_size=16")
        driver.set_trace_callback(remember)
        driver.set_progress_handler(progress, 1000)
elif sqlite:
    def after_metrics(statement):
        # The first statement after the metrics INSERT: every point has been inserted, nothing committed.
        if running[0] == "INSERT INTO metrics" and not statement.startswith("INSERT INTO metrics"):
            freeze()
        remember(statement)

    @event.listens_for(store.engine, "begin")
    def arm(conn):
        conn.connection.driver_connection.set_trace_callback(after_metrics)
else:
    @event.listens_for(store.engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        remember(statement)

    @event.listens_for(store.engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO METRICS"):
            freeze()

points = (Metric("loss", 1.0 / (i + 1), i) for i in range(POINTS))
store.runs.log(run_id, params={"batch": "big"}, metrics=points, tags={"batch": "big"})
print("the batch was committed; the test expected to kill the writer first", file=sys.stderr)
sys.exit(3)
""".replace("POINTS", str(POINTS))


def _kill_mid_transaction(url: str, run_id: str, mode: str, tmp_path: Path) -> None:
    ready = tmp_path / f"ready-{mode}"
    wal = Path(url.removeprefix("sqlite:///") + "-wal")
    committed = wal.stat().st_size if url.startswith("sqlite") and wal.exists() else 0
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, run_id, str(ready), mode], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if writer.poll() is not None:
                pytest.fail(f"the writer exited ({writer.returncode}) before it was mid-transaction: {writer.stderr}")
            if time.monotonic() > deadline:
                pytest.fail("the writer never reached the middle of its transaction")
            time.sleep(0.02)
        assert ready.read_text() == "INSERT INTO metrics", f"frozen in {ready.read_text()!r}, not the big INSERT"
        if url.startswith("sqlite"):
            # Uncommitted pages already in the WAL: recovery must ignore them, not just never see them.
            assert wal.stat().st_size > committed + 1_000_000, "the batch should have spilled into the WAL"
        os.kill(writer.pid, signal.SIGKILL)
        assert writer.wait(timeout=30) == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        if writer.stderr is not None:
            writer.stderr.close()


def _prepare(url: str) -> str:
    with open_meta(url) as store:
        run_id = store.runs.create("victim", params={"before": 1})
        store.runs.log(run_id, metrics=[Metric("loss", 9.0, 0)])
        store.models.create_version("m")
        store.models.create_version("m")
        store.models.set_alias("m", "champion", 1, expected_revision=0)
    return run_id


def _expect_intact_and_writable(url: str, run_id: str) -> None:
    with open_meta(url) as store:
        if url.startswith("sqlite"):
            with store.engine.connect() as conn:
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        run = store.runs.get(run_id)
        assert run.params == {"before": "1"}, "no param of the killed batch may be visible"
        assert run.tags == {}, "no tag of the killed batch may be visible"
        assert run.metrics == {"loss": 9.0}, "the latest metric must be the one committed before the crash"
        assert [p.value for p in store.runs.metric_history(run_id, "loss")] == [9.0], "a partial batch is visible"
        assert run.status == "running"

        store.runs.log(run_id, params={"batch": "retried"}, metrics=[Metric("loss", 0.5, 1)], tags={"batch": "2"})
        store.runs.finish(run_id)
        store.models.set_alias("m", "champion", 2, expected_revision=1)
        run = store.runs.get(run_id)
        assert (run.status, run.params["batch"], run.metrics["loss"]) == ("finished", "retried", 0.5)
        assert store.models.get_alias("m", "champion").revision == 2


@pytest.mark.parametrize("mode", ["statement", "insert"])
def test_sqlite_survives_sigkill_mid_transaction(sqlite_url: str, tmp_path: Path, mode: str) -> None:
    run_id = _prepare(sqlite_url)
    _kill_mid_transaction(sqlite_url, run_id, mode, tmp_path)
    _expect_intact_and_writable(sqlite_url, run_id)


@pytest.mark.postgres
def test_postgres_survives_sigkill_mid_transaction(postgres_url: str, tmp_path: Path) -> None:
    run_id = _prepare(postgres_url)
    _kill_mid_transaction(postgres_url, run_id, "insert", tmp_path)
    _expect_intact_and_writable(postgres_url, run_id)
