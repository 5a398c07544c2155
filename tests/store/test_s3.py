"""The S3 store against a real S3-compatible server (moto's server mode on 127.0.0.1), no boto mocks."""

from __future__ import annotations

import time

import pytest

from ctml.errors import (
    ArtifactNotFoundError,
    BackendUnavailableError,
    ConfigError,
    ConflictError,
)
from ctml.hashing import sha256_bytes
from ctml.store import S3ArtifactStore, open_store
from ctml.testing.store import ARTIFACT_STORE_CHECKS, S3StoreHarness

pytestmark = pytest.mark.s3
pytest.importorskip("s3fs", reason="the S3 store needs the s3 extra: pip install 'ctml[s3]'")

_PART = 5 * 2**20  # the smallest block: makes the suite's 6 MiB file a real multipart upload


@pytest.fixture
def harness(s3_bucket, s3_options):
    return S3StoreHarness(f"s3://{s3_bucket}/suite", block_size=_PART, **s3_options)


@pytest.mark.parametrize("check", ARTIFACT_STORE_CHECKS, ids=lambda check: check.__name__)
def test_conformance(check, harness):
    check(harness)


def test_objects_live_under_the_prefix_in_the_sha256_layout(s3_bucket, s3_options):
    import s3fs

    store = open_store(f"s3://{s3_bucket}/layout/", **s3_options)
    assert isinstance(store, S3ArtifactStore)
    assert store.url == f"s3://{s3_bucket}/layout"
    digest = store.put_bytes(b"weights")
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_options)
    assert fs.cat_file(f"{s3_bucket}/layout/sha256/{digest[:2]}/{digest[2:4]}/{digest}") == b"weights"


def test_bucket_without_prefix(s3_bucket, s3_options):
    store = S3ArtifactStore(f"s3://{s3_bucket}", **s3_options)
    assert store.url == f"s3://{s3_bucket}"
    digest = store.put_bytes(b"at the bucket root")
    assert store.get_bytes(digest) == b"at the bucket root"
    store.delete(digest)


@pytest.mark.parametrize("variable", ["CTML_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"])
def test_endpoint_from_the_environment(s3_endpoint, s3_bucket, s3_credentials, variable):
    store = S3ArtifactStore(f"s3://{s3_bucket}/env", environ={variable: s3_endpoint}, **s3_credentials)
    digest = store.put_bytes(b"found through the environment")
    assert store.get_bytes(digest) == b"found through the environment"


def test_ctml_endpoint_variable_wins_over_aws(s3_endpoint, s3_bucket, s3_credentials, closed_endpoint):
    environ = {"CTML_S3_ENDPOINT_URL": s3_endpoint, "AWS_ENDPOINT_URL": closed_endpoint}
    store = S3ArtifactStore(f"s3://{s3_bucket}/env", environ=environ, **s3_credentials)
    assert store.exists(store.put_bytes(b"ctml first"))


def test_missing_bucket_is_a_config_error_naming_it(s3_options, tmp_path):
    digest = sha256_bytes(b"anything")
    source = tmp_path / "f"
    source.write_bytes(b"anything")
    calls = {
        "exists": lambda store: store.exists(digest),
        "get_bytes": lambda store: store.get_bytes(digest),
        "get_file": lambda store: store.get_file(digest, tmp_path / "out"),
        "put_bytes": lambda store: store.put_bytes(b"anything"),
        "put_file": lambda store: store.put_file(source),
        "delete": lambda store: store.delete(digest),
    }
    for name, call in calls.items():
        # A fresh store each time, so every operation meets a bucket nobody has checked yet.
        store = S3ArtifactStore("s3://no-such-bucket/x", **s3_options)
        with pytest.raises(ConfigError, match=r"'no-such-bucket' .* does not exist") as raised:
            call(store)
        assert not isinstance(raised.value, ArtifactNotFoundError), name
    assert not (tmp_path / "out").exists()


def test_unreachable_endpoint_fails_fast_with_the_endpoint_named(closed_endpoint, s3_credentials, tmp_path):
    store = S3ArtifactStore(
        "s3://bucket/prefix",
        endpoint_url=closed_endpoint,
        connect_timeout=1,
        max_attempts=1,
        **s3_credentials,
    )
    digest = sha256_bytes(b"x")
    source = tmp_path / "f"
    source.write_bytes(b"x")
    calls = [
        lambda: store.exists(digest),
        lambda: store.get_bytes(digest),
        lambda: store.get_file(digest, tmp_path / "out"),
        lambda: store.put_bytes(b"x"),
        lambda: store.put_file(source),
        lambda: store.delete(digest),
    ]
    started = time.monotonic()
    for call in calls:
        with pytest.raises(BackendUnavailableError, match=closed_endpoint.replace(".", r"\.")) as raised:
            call()
        assert isinstance(raised.value, OSError)
        assert "CTML_S3_ENDPOINT_URL" in str(raised.value)
    assert time.monotonic() - started < 10
    assert not (tmp_path / "out").exists()


def test_file_that_changes_during_upload_is_not_stored(s3_bucket, s3_options, tmp_path, monkeypatch):
    store = S3ArtifactStore(f"s3://{s3_bucket}/race", **s3_options)
    source = tmp_path / "growing.log"
    source.write_bytes(b"version two")
    claimed = sha256_bytes(b"version one")
    # As if the file was rewritten between hashing it and sending it.
    monkeypatch.setattr("ctml.store._s3.sha256_file", lambda path: claimed)
    monkeypatch.setattr("ctml.store._s3.os.path.getsize", lambda path: len(b"version one"))
    with pytest.raises(ConflictError, match="changed while it was being stored"):
        store.put_file(source)
    assert not store.exists(claimed)
    assert not store.exists(sha256_bytes(b"version two"))


def test_s3_url_and_parameter_validation():
    with pytest.raises(ConfigError, match="s3://bucket"):
        S3ArtifactStore("s3://")
    with pytest.raises(ConfigError, match="block_size"):
        S3ArtifactStore("s3://bucket", block_size=1024)
    with pytest.raises(ConfigError, match="max_attempts"):
        S3ArtifactStore("s3://bucket", max_attempts=0)


def test_misspelt_option_is_refused_up_front():
    with pytest.raises(ConfigError, match=r"does not take the option\(s\) 'endpoint'.*endpoint_url"):
        open_store("s3://bucket", endpoint="http://127.0.0.1:9000")
    # s3fs's own options and the botocore session's are accepted.
    open_store("s3://bucket", endpoint_url="http://127.0.0.1:9", profile="default", anon=True)
