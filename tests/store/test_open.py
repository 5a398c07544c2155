"""open_store: URL -> backend, lazily imported; and the package's public surface."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ctml.store
import ctml.testing.store
from ctml.errors import ConfigError, MissingExtraError, UnknownBackendError
from ctml.store import ArtifactStore, LocalArtifactStore, S3ArtifactStore, open_store


def test_store_package_exports_exactly_its_all():
    public = {name for name in vars(ctml.store) if not name.startswith("_")}
    assert set(ctml.store.__all__) == public


def test_conformance_module_exports_every_check_and_harness():
    module = ctml.testing.store
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert set(module.__all__) == defined | {"ARTIFACT_STORE_CHECKS", "BAD_DIGESTS"}
    checks = {name for name in defined if name.startswith("check_") and name != "check_artifact_store"}
    assert {check.__name__ for check in module.ARTIFACT_STORE_CHECKS} == checks


def test_unknown_scheme_names_the_known_ones():
    with pytest.raises(UnknownBackendError) as raised:
        open_store("ftp://host/artifacts")
    message = str(raised.value)
    assert "'ftp'" in message
    assert "file, s3" in message
    assert isinstance(raised.value, ConfigError)


def test_empty_url_is_a_config_error():
    with pytest.raises(ConfigError, match="empty"):
        open_store("")


def test_windows_drive_letter_is_a_path_not_a_scheme():
    assert isinstance(open_store("C:/ctml/artifacts"), LocalArtifactStore)


def test_backends_satisfy_the_protocol(tmp_path):
    assert isinstance(open_store(str(tmp_path)), ArtifactStore)
    pytest.importorskip("s3fs")
    assert isinstance(S3ArtifactStore("s3://bucket", endpoint_url="http://127.0.0.1:9"), ArtifactStore)


def test_missing_s3_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # what `import s3fs` sees when it is not installed
    with pytest.raises(MissingExtraError) as raised:
        open_store("s3://bucket/prefix")
    assert "pip install 'ctml[s3]'" in str(raised.value)
    assert "s3fs" in str(raised.value)
    assert isinstance(raised.value, ImportError)


def test_importing_the_store_imports_no_backend_library():
    code = "import sys, ctml.store; print(sorted({'s3fs', 'fsspec', 'botocore'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
