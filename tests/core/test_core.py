"""L0 core: settings, clock, ids, hashing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctml.clock import SimulatedClock, WallClock, utc
from ctml.config import Settings
from ctml.errors import ConfigError, CtmlError, MissingExtraError, UnknownBackendError
from ctml.hashing import canonical_json, is_digest, sha256_bytes, sha256_file, sha256_json
from ctml.ids import id_time_ms, new_id


def test_settings_read_only_the_given_environment(tmp_path: Path) -> None:
    env = {
        "CTML_HOME": str(tmp_path),
        "CTML_META_URL": "postgresql://db/ct",
        "CTML_AUTO_MIGRATE": "off",
        "CTML_ACTOR": "ana",
        "OTHER": "x",
    }
    settings = Settings.from_env(env)
    assert settings.home == tmp_path
    assert settings.meta_url == "postgresql://db/ct"
    assert settings.artifact_url == f"file://{tmp_path / 'artifacts'}"
    assert settings.auto_migrate is False
    assert settings.actor == "ana"


def test_settings_custom_prefix() -> None:
    settings = Settings.from_env({"APP_HOME": "/srv/x"}, prefix="APP_")
    assert settings.meta_url == "sqlite:////srv/x/meta.db"


def test_settings_bad_flag_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CTML_AUTO_MIGRATE must be one of"):
        Settings.from_env({"CTML_AUTO_MIGRATE": "maybe"})


def test_simulated_clock_moves_only_when_told() -> None:
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    clock = SimulatedClock(start)
    assert clock.now() == start
    clock.advance(3600)
    assert clock.now() == start + timedelta(hours=1)
    clock.sleep(60)
    assert clock.now() == start + timedelta(hours=1, minutes=1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(start)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_wall_clock_is_aware_utc() -> None:
    now = WallClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert utc(datetime(2024, 1, 1)).tzinfo is UTC  # noqa: DTZ001


def test_ids_sort_by_time_and_are_unique() -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    ids = [new_id(base + timedelta(milliseconds=i)) for i in range(200)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert id_time_ms(ids[5]) == int(base.timestamp() * 1000) + 5
    same_ms = {new_id(base) for _ in range(1000)}
    assert len(same_ms) == 1000


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_canonical_json_is_order_independent(value: object) -> None:
    if isinstance(value, dict):
        reordered = dict(reversed(list(value.items())))
        assert canonical_json(reordered) == canonical_json(value)
        assert sha256_json(reordered) == sha256_json(value)


def test_hashes(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    data = bytes(range(256)) * 10_000
    path.write_bytes(data)
    assert sha256_file(path) == sha256_bytes(data)
    assert is_digest(sha256_bytes(b""))
    assert not is_digest("abc")
    with pytest.raises(ValueError, match="Out of range float"):
        canonical_json(float("nan"))


def test_error_tree() -> None:
    unknown = UnknownBackendError("mysql://x", "metadata store", ["sqlite", "postgresql"])
    assert isinstance(unknown, ConfigError)
    assert isinstance(unknown, CtmlError)
    assert "'mysql'" in str(unknown)
    missing = MissingExtraError("postgres", "A PostgreSQL metadata store", "psycopg")
    assert isinstance(missing, ImportError)
    assert "pip install 'ctml[postgres]'" in str(missing)
