"""Every shared dataset, whole: it ingests as one version, re-ingests as none, and validates against itself."""

from __future__ import annotations

import pytest

from ctml.data import Datasets, FileSource, digest_table, validate_file

from .conftest import TARGETS, dataset_file


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_whole_dataset_ingests_versions_and_validates(datasets: Datasets, name: str) -> None:
    path = dataset_file(name)
    first = datasets.ingest(name, FileSource(path), target=TARGETS[name])
    assert first.ok
    assert len(first.new_versions) == 1
    version = first.new_versions[0]
    assert version.rows > 1000
    assert (version.source or {})["path"] == str(path)
    assert digest_table(datasets.read(version)) == version.digest
    assert datasets.ingest(name, FileSource(path)).outcomes == ()
    report = validate_file(path, datasets.schema(version))
    assert report.passed, [f.message for f in report.findings]
    assert report.rows == version.rows
