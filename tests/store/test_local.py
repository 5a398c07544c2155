"""The local directory store: the conformance suite, plus what only a file system can show."""

from __future__ import annotations

import os
import stat
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctml.errors import ConfigError
from ctml.hashing import sha256_bytes
from ctml.store import LocalArtifactStore, open_store
from ctml.testing.store import ARTIFACT_STORE_CHECKS, LocalStoreHarness, check_artifact_store


@pytest.mark.parametrize("check", ARTIFACT_STORE_CHECKS, ids=lambda check: check.__name__)
def test_conformance(check, tmp_path):
    check(LocalStoreHarness(tmp_path))


def test_check_artifact_store_runs_every_check(tmp_path):
    check_artifact_store(LocalStoreHarness(tmp_path))


def test_layout_is_sha256_fan_out_and_objects_are_read_only(tmp_path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    digest = store.put_bytes(b"weights")
    path = tmp_path / "artifacts" / "sha256" / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == b"weights"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_writes_leave_no_temporary_files(tmp_path):
    store = LocalArtifactStore(tmp_path)
    source = tmp_path.parent / f"{tmp_path.name}-source.bin"
    source.write_bytes(b"x" * 3_000_000)
    store.put_file(source)
    store.put_file(source)
    store.put_bytes(b"small")
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.name.endswith(".part")]
    assert leftovers == []


def test_get_file_result_is_an_ordinary_readable_file(tmp_path):
    store = LocalArtifactStore(tmp_path / "store")
    digest = store.put_bytes(b"abc")
    dest = store.get_file(digest, tmp_path / "out.bin")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_a_crash_mid_write_leaves_no_object_and_no_temp_file(tmp_path, monkeypatch, where):
    store = LocalArtifactStore(tmp_path)

    def crash(*args, **kwargs):
        raise OSError("simulated crash")

    monkeypatch.setattr(f"ctml.store._local.os.{where}", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.put_bytes(b"half written")
    source = tmp_path.parent / f"{tmp_path.name}-src"
    source.write_bytes(b"also half written")
    with pytest.raises(OSError, match="simulated crash"):
        store.put_file(source)
    monkeypatch.undo()
    assert not store.exists(sha256_bytes(b"half written"))
    assert not store.exists(sha256_bytes(b"also half written"))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def _put_in_process(root: str) -> str:
    return LocalArtifactStore(root).put_bytes(b"shared by processes" * 50_000)


def test_concurrent_processes_storing_the_same_content(tmp_path):
    with ProcessPoolExecutor(max_workers=4) as pool:
        digests = set(pool.map(_put_in_process, [str(tmp_path)] * 8))
    assert digests == {sha256_bytes(b"shared by processes" * 50_000)}
    assert LocalArtifactStore(tmp_path).get_bytes(digests.pop()) == b"shared by processes" * 50_000


@given(data=st.binary(max_size=4096))
@settings(max_examples=60, deadline=None)
def test_any_bytes_round_trip_under_their_sha256(data):
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalArtifactStore(tmp)
        digest = store.put_bytes(data)
        assert digest == sha256_bytes(data)
        assert store.put_bytes(data) == digest
        assert store.get_bytes(digest) == data


def test_file_url_plain_path_and_url_round_trip(tmp_path, monkeypatch):
    by_url = open_store(f"file://{tmp_path}")
    by_path = open_store(str(tmp_path))
    assert isinstance(by_url, LocalArtifactStore)
    assert by_url.url == by_path.url == tmp_path.as_uri()
    assert open_store(f"file://localhost{tmp_path}").url == by_url.url
    spaced = tmp_path / "with space"
    assert LocalArtifactStore(spaced.as_uri()).root == spaced
    assert open_store(by_url.url).url == by_url.url
    monkeypatch.chdir(tmp_path)
    relative = LocalArtifactStore("artifacts")
    monkeypatch.chdir(tmp_path.parent)
    assert relative.root == tmp_path / "artifacts"  # fixed when opened, not when used
    assert not (tmp_path / "artifacts").exists()  # opening a store writes nothing


def test_file_url_with_two_slashes_explains_three(tmp_path):
    with pytest.raises(ConfigError, match="three slashes"):
        open_store("file://srv/ctml/artifacts")


def test_local_store_rejects_options_and_empty_paths(tmp_path):
    with pytest.raises(ConfigError, match="takes no options"):
        open_store(str(tmp_path), endpoint_url="http://x")
    with pytest.raises(ConfigError, match="empty"):
        LocalArtifactStore("")


def test_delete_removes_the_read_only_object(tmp_path):
    store = LocalArtifactStore(tmp_path)
    digest = store.put_bytes(b"gone soon")
    store.delete(digest)
    assert not os.path.exists(tmp_path / "sha256" / digest[:2] / digest[2:4] / digest)
    assert Path(tmp_path / "sha256").is_dir()
