from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ctml.meta import MetaStore, open_meta
from ctml.store import ArtifactStore, open_store


@pytest.fixture
def meta(tmp_path: Path) -> Iterator[MetaStore]:
    store = open_meta(f"sqlite:///{tmp_path}/meta.db")
    yield store
    store.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return open_store(str(tmp_path / "artifacts"))
