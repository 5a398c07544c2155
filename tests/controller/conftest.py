"""An app over a few files cut from the shipped Elec2 stream, and workspaces on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sklearn.linear_model import LogisticRegression

from _services import unreachable
from ctml.app import App
from ctml.clock import SimulatedClock
from ctml.config import Settings
from ctml.data import FileSource
from ctml.evaluate import Gate
from ctml.train import SlidingWindow
from ctml.workspace import Workspace

POSTGRES_SERVER = os.environ.get("CTML_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432").rstrip("/")

ROWS = 2000


@pytest.fixture(scope="session")
def elec2() -> pa.Table:
    with resources.as_file(resources.files("ctml.demo").joinpath("data", "elec2.csv.gz")) as path:
        return pacsv.read_csv(path).slice(0, 5 * ROWS)


def write_part(folder: Path, table: pa.Table, index: int) -> Path:
    """Part ``index`` (ROWS rows) of the stream as a CSV file the source picks up."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{index:02d}.csv"
    pacsv.write_csv(table.slice(index * ROWS, ROWS), path)
    return path


def make_app(folder: Path) -> App:
    return App(
        "elec2",
        source=FileSource(folder / "*.csv"),
        target="class",
        time="date",
        model=LogisticRegression(max_iter=200),
        training=SlidingWindow(rows=5000),
        gate=Gate(min_effect=0.0, floors={"accuracy": 0.55}),
        holdout=0.2,
        seed=3,
    )


def open_workspace(tmp_path: Path, meta_url: str, clock: SimulatedClock) -> Workspace:
    settings = Settings(home=tmp_path, meta_url=meta_url, artifact_url=str(tmp_path / "artifacts"), actor="test")
    return Workspace(settings, clock=clock)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    try:
        admin = psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unreachable(f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {exc}")
    name = f"ctml_test_{uuid.uuid4().hex[:16]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
