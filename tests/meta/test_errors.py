"""Each way of opening or using the metadata store wrongly gets one clear ConfigError-family message."""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

import ctml.meta._engine as engine_module
from ctml.errors import (
    BackendUnavailableError,
    ConfigError,
    ConflictError,
    MissingExtraError,
    SchemaVersionError,
    UnknownBackendError,
)
from ctml.meta import Metric, Node, open_meta, schema_status

from .conftest import free_port

PROBE_REVISION = '''
"""a revision newer than the installed ctml knows, for tests"""
import sqlalchemy as sa
from alembic import op

revision = "9000_probe"
down_revision = "HEAD"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("ctml_probe", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("ctml_probe")
'''


def _snapshot(url: str) -> tuple[list[str], list[tuple[object, ...]], int]:
    """Tables, the alembic_version rows and the number of runs, read without ctml."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            tables = sorted(inspect(conn).get_table_names())
            versions = [tuple(row) for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
            runs = int(conn.execute(text("SELECT count(*) FROM runs")).scalar_one())
    finally:
        engine.dispose()
    return tables, versions, runs


def _set_revision(url: str, revision: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["mysql://db.example/ctml", "meta.db", "s3://bucket/meta"])
def test_unknown_url_scheme(url: str) -> None:
    with pytest.raises(UnknownBackendError) as raised:
        open_meta(url)
    message = str(raised.value)
    assert url in message
    assert "postgresql" in message, message
    assert "sqlite" in message, message
    assert isinstance(raised.value, ConfigError)


def test_unparseable_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Cannot parse metadata store URL"):
        open_meta("postgresql://postgres@127.0.0.1:notaport/ctml")


def test_unreachable_postgres_fails_fast_with_a_hint() -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    port = free_port()
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as raised:
        open_meta(f"postgresql://ctml:s3cret@127.0.0.1:{port}/ctml")
    elapsed = time.monotonic() - started
    message = str(raised.value)
    assert elapsed < 5, f"a refused connection took {elapsed:.1f}s to report"
    assert f"127.0.0.1:{port}" in message, message
    assert "CTML_META_URL" in message, message
    assert "s3cret" not in message, "the message must not show the password"
    assert isinstance(raised.value, OSError)


def test_missing_postgres_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what find_spec reports when it is not installed
    with pytest.raises(MissingExtraError) as raised:
        open_meta("postgresql://postgres@127.0.0.1:5432/ctml")
    assert "pip install 'ctml[postgres]'" in str(raised.value)
    assert raised.value.extra == "postgres"
    assert isinstance(raised.value, ImportError)


def test_schema_from_a_newer_ctml_is_refused_and_left_alone(backend_url: str) -> None:
    with open_meta(backend_url) as store:
        store.runs.create("kept")
    _set_revision(backend_url, "9999_from_the_future")
    before = _snapshot(backend_url)

    for auto in (True, False):
        with pytest.raises(SchemaVersionError) as raised:
            open_meta(backend_url, auto_migrate=auto)
        message = str(raised.value)
        assert "9999_from_the_future" in message, message
        assert "newer ctml" in message, message
        assert "pip install -U ctml" in message, message
        assert "nothing was changed" in message, message
    assert _snapshot(backend_url) == before


def _upgrade_ctml(head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Pretend the installed ctml got one more migration after ``head``: returns its revision."""
    migrations = tmp_path / "migrations"
    shutil.copytree(engine_module.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "9000_probe.py").write_text(PROBE_REVISION.replace("HEAD", head))
    monkeypatch.setattr(engine_module, "MIGRATIONS", migrations)
    return "9000_probe"


def test_old_schema_without_auto_migrate_is_refused(
    backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_meta(backend_url) as store:
        store.runs.create("kept")
        current, head = schema_status(store.engine)
    assert current == head
    newer = _upgrade_ctml(head, tmp_path, monkeypatch)
    before = _snapshot(backend_url)

    with pytest.raises(SchemaVersionError) as raised:
        open_meta(backend_url, auto_migrate=False)
    message = str(raised.value)
    assert repr(head) in message, message
    assert repr(newer) in message, message
    assert "ctml db upgrade" in message, message
    assert "CTML_AUTO_MIGRATE" in message, message
    assert _snapshot(backend_url) == before, "a refused open must not touch the schema"

    with open_meta(backend_url) as store:  # auto_migrate defaults to True: the upgrade runs
        assert schema_status(store.engine) == (newer, newer)
        assert store.runs.count() == 1
    tables, versions, _ = _snapshot(backend_url)
    assert "ctml_probe" in tables
    assert versions == [(newer,)]


def test_empty_store_is_created_even_without_auto_migrate(backend_url: str) -> None:
    # auto_migrate guards upgrades of existing data; a new, empty store has none, so it is created.
    with open_meta(backend_url, auto_migrate=False) as store:
        current, head = schema_status(store.engine)
        assert current == head
        assert store.runs.count() == 0


@pytest.mark.parametrize(
    "bad",
    [
        "metrics.acc >",
        "accuracy > 0.9",
        "metrics.acc > 0.9 or status = 'finished'",
        "metrics.acc > 0.9 and",
        "params.model = lgbm",
        "tags.team == 'risk'",
    ],
)
def test_bad_filter_shows_the_clause_and_an_example(sqlite_url: str, bad: str) -> None:
    with open_meta(sqlite_url) as store, pytest.raises(ConfigError) as raised:
        store.runs.search(bad)
    message = str(raised.value)
    assert repr(bad) in message, message
    assert "Example: metrics.acc > 0.9 and status = 'finished'" in message, message


@pytest.mark.parametrize(
    ("bad", "hint"),
    [("metrics.acc > 'high'", "is numeric"), ("params.depth > 3", "is text"), ("metrics.acc like 0.9", "numeric")],
)
def test_mistyped_filter_says_what_the_field_is(sqlite_url: str, bad: str, hint: str) -> None:
    with open_meta(sqlite_url) as store, pytest.raises(ConfigError, match=hint):
        store.runs.count(bad)


@pytest.mark.parametrize("bad", ["accuracy desc", "created sideways", "metrics.acc up"])
def test_bad_order_by_lists_what_is_accepted(sqlite_url: str, bad: str) -> None:
    with open_meta(sqlite_url) as store, pytest.raises(ConfigError) as raised:
        store.runs.search(order_by=bad)
    message = str(raised.value)
    assert repr(bad) in message or repr(bad.split(maxsplit=1)[0]) in message, message
    assert "asc" in message, message
    assert "desc" in message, message


def test_writing_to_a_finished_run_is_a_conflict(sqlite_url: str) -> None:
    with open_meta(sqlite_url) as store:
        run_id = store.runs.create("done")
        store.runs.finish(run_id)
        writes: list[Callable[[], None]] = [
            lambda: store.runs.log(run_id, metrics=[Metric("acc", 0.5)]),
            lambda: store.runs.log(run_id, params={"late": 1}),
            lambda: store.runs.finish(run_id),
        ]
        for write in writes:
            with pytest.raises(ConflictError) as raised:
                write()
            message = str(raised.value)
            assert run_id in message, message
            assert "finished" in message, message
            assert "start a new run" in message, message


def test_store_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendUnavailableError) as raised:
        open_meta(f"sqlite:///{path}")
    assert "meta.db" in str(raised.value)
    with pytest.raises(sqlite3.DatabaseError):  # and the file is left as it was, for the user to inspect
        sqlite3.connect(path).execute("SELECT 1 FROM sqlite_master").fetchall()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.decisions.record("k" * 65, "promote", "", {}), "decision kind"),
        (lambda s: s.decisions.record("gate", "", "", {}), "decision outcome"),
        (lambda s: s.lineage.add(Node("run", "a"), Node("run", "b"), "r" * 65), "lineage relation"),
        (lambda s: s.events.append("e1", "x" * 65, {}), "event kind"),
        (lambda s: s.audit.record("ana", "a" * 65, "run", "x"), "audit action"),
    ],
)
def test_text_too_long_for_its_column_is_a_clear_error(tmp_path: Path, call: Any, message: str) -> None:
    with open_meta(f"sqlite:///{tmp_path / 'meta.db'}") as store:
        with pytest.raises(ConfigError, match=f"A {message} must be a non-empty string of at most"):
            call(store)
        assert store.decisions.list() == []
        assert store.audit.list() == []
