"""ctml.registry over a real SQLite store and a local artifact store."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctml.errors import ConfigError, ConflictError, CorruptArtifactError, NotFoundError
from ctml.hashing import sha256_bytes
from ctml.meta import MetaStore, Node
from ctml.registry import ModelRegistry
from ctml.store import ArtifactStore
from ctml.testing.store import LocalStoreHarness


@pytest.fixture
def registry(meta: MetaStore, artifacts: ArtifactStore) -> ModelRegistry:
    return ModelRegistry(meta, artifacts, actor="ana")


def test_register_and_resolve_by_number_and_alias(registry: ModelRegistry, tmp_path: Path) -> None:
    first = registry.register("churn", b"model-1", flavor="sklearn", metrics={"auc": 0.8}, meta={"note": "x"})
    model_file = tmp_path / "model.bin"
    model_file.write_bytes(b"model-2" * 100)
    second = registry.register("churn", model_file, flavor="sklearn")
    assert (first.version, second.version) == (1, 2)
    assert first.artifact_digest == sha256_bytes(b"model-1")
    assert first.meta == {"size_bytes": 7, "note": "x"}
    assert second.meta == {"size_bytes": 700}
    assert (first.actor, first.flavor, first.metrics) == ("ana", "sklearn", {"auc": 0.8})

    for ref in (2, "2", "v2"):
        assert registry.resolve("churn", ref).id == second.id, ref
    registry.promote("churn", 1, "champion", reason="first")
    assert registry.resolve("churn", "champion").id == first.id
    assert registry.load_bytes("churn", "champion") == b"model-1"
    assert registry.load_bytes("churn", 2) == b"model-2" * 100

    for ref in ("canary", 3, "v9"):
        with pytest.raises(NotFoundError):
            registry.resolve("churn", ref)
    with pytest.raises(ConfigError, match="is not a file"):
        registry.register("churn", tmp_path / "missing.bin")


def test_load_bytes_refuses_a_tampered_model(registry: ModelRegistry, artifacts: ArtifactStore, tmp_path: Path) -> None:
    version = registry.register("churn", b"trusted model bytes")
    assert version.artifact_digest is not None
    LocalStoreHarness(tmp_path).write_raw(artifacts, version.artifact_digest, b"evil model bytes!!!")
    with pytest.raises(CorruptArtifactError):
        registry.load_bytes("churn", 1)


def test_version_without_artifact_cannot_be_loaded(registry: ModelRegistry, meta: MetaStore) -> None:
    meta.models.create_version("bare")
    with pytest.raises(NotFoundError, match="no stored artifact"):
        registry.load_bytes("bare", 1)


def test_promote_and_rollback_with_history(registry: ModelRegistry) -> None:
    for n in range(3):
        registry.register("churn", f"model-{n}".encode())
    registry.promote("churn", 1, reason="first model")
    registry.promote("churn", 2, reason="beat v1")
    target = registry.promote("churn", 3, reason="beat v2")
    assert (target.version, target.revision) == (3, 3)

    back = registry.rollback("churn", reason="canary failed")
    assert (back.version, back.revision) == (2, 4)
    assert registry.load_bytes("churn", "champion") == b"model-1"
    history = registry.history("churn", "champion")
    assert [(m.from_version, m.to_version, m.reason, m.actor) for m in history] == [
        (3, 2, "canary failed", "ana"),
        (2, 3, "beat v2", "ana"),
        (1, 2, "beat v1", "ana"),
        (None, 1, "first model", "ana"),
    ]
    assert registry.rollback("churn").version == 3, "rolling back a rollback returns to the version before it"
    assert registry.history("churn", "champion")[0].reason == "rollback from v2"


def test_rollback_needs_a_previous_version(registry: ModelRegistry) -> None:
    registry.register("churn", b"only")
    with pytest.raises(NotFoundError):
        registry.rollback("churn")
    registry.promote("churn", 1)
    with pytest.raises(NotFoundError, match="no previous version"):
        registry.rollback("churn")


def test_promote_with_a_stale_revision_is_a_conflict(registry: ModelRegistry) -> None:
    registry.register("churn", b"a")
    registry.register("churn", b"b")
    seen = registry.promote("churn", 1, expected_revision=0)
    registry.promote("churn", 2, expected_revision=seen.revision)
    with pytest.raises(ConflictError):
        registry.promote("churn", 1, expected_revision=seen.revision)
    assert registry.resolve("churn", "champion").version == 2


def test_rollback_loses_to_a_concurrent_move(
    registry: ModelRegistry, meta: MetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for data in (b"a", b"b", b"c"):
        registry.register("churn", data)
    registry.promote("churn", 1)
    registry.promote("churn", 2)
    previous_version = meta.models.previous_version

    def someone_moves_it_meanwhile(model: str, alias: str) -> int | None:
        found = previous_version(model, alias)
        meta.models.set_alias(model, alias, 3, actor="bo", reason="hotfix")
        return found

    monkeypatch.setattr(meta.models, "previous_version", someone_moves_it_meanwhile)
    with pytest.raises(ConflictError):
        registry.rollback("churn", reason="too late")
    assert registry.resolve("churn", "champion").version == 3, "the concurrent move must stand"


def test_register_links_run_and_datasets(registry: ModelRegistry, meta: MetaStore) -> None:
    run_id = meta.runs.create("train")
    data, _ = meta.datasets.add_version("sales", "d" * 64, 10)
    registry.register("churn", b"m", run_id=run_id, datasets=[data.id])
    edges = {(e.src, e.relation) for e in meta.lineage.upstream(Node("model_version", "churn/1"))}
    assert edges == {(Node("run", run_id), "produced"), (Node("dataset_version", data.id), "input")}
    assert meta.models.get_version("churn", 1).run_id == run_id
