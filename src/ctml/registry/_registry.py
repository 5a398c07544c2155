"""The model registry: versions stored with their lineage, aliases moved with compare-and-set.

A version's bytes live in the artifact store under their digest; the registry reads them back verified, so a
tampered model is refused before anything deserializes it.

>>> from ctml.meta import open_meta
>>> from ctml.store import open_store
>>> import tempfile
>>> registry = ModelRegistry(open_meta("sqlite://"), open_store(tempfile.mkdtemp()), actor="ana")
>>> v1 = registry.register("churn", b"model-1", flavor="sklearn")
>>> v2 = registry.register("churn", b"model-2", flavor="sklearn")
>>> registry.promote("churn", 1, reason="first model").version
1
>>> registry.promote("churn", 2, reason="beat v1").version
2
>>> registry.rollback("churn", reason="canary failed").version
1
>>> registry.load_bytes("churn", "champion")
b'model-1'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ctml.errors import ConfigError, NotFoundError
from ctml.meta import ANY_REVISION, AliasMove, AliasTarget, MetaStore, ModelVersion, Node
from ctml.store import ArtifactStore
from ctml.types import JSONObject

__all__ = ["ModelRegistry"]


class ModelRegistry:
    """Register, resolve, load, promote and roll back model versions."""

    def __init__(self, meta: MetaStore, artifacts: ArtifactStore, *, actor: str = "unknown") -> None:
        self.meta = meta
        self.artifacts = artifacts
        self.actor = actor

    def register(
        self,
        model: str,
        data: bytes | str | os.PathLike[str],
        *,
        app: str | None = None,
        flavor: str | None = None,
        run_id: str | None = None,
        metrics: Mapping[str, float] | None = None,
        meta: JSONObject | None = None,
        datasets: Sequence[str] = (),
        reference_profile: JSONObject | None = None,
    ) -> ModelVersion:
        """Store the model's bytes (or file) and add a version linked to its run and dataset versions.

        ``reference_profile`` is the drift profile of the training data (``ctml.drift.profile(...).to_json()``),
        kept with the version so drift against it needs neither the training data nor its lineage.
        """
        if isinstance(data, bytes):
            digest, size = self.artifacts.put_bytes(data), len(data)
        else:
            path = Path(data)
            if not path.is_file():
                raise ConfigError(f"Cannot register {model!r}: {path} is not a file.")
            digest, size = self.artifacts.put_file(path), path.stat().st_size
        sources = [Node("dataset_version", d) for d in datasets]
        if run_id is not None:
            sources.append(Node("run", run_id))
        return self.meta.models.create_version(
            model,
            app=app,
            run_id=run_id,
            artifact_digest=digest,
            flavor=flavor,
            metrics=metrics,
            meta={
                "size_bytes": size,
                **(meta or {}),
                **({"reference_profile": reference_profile} if reference_profile else {}),
            },
            actor=self.actor,
            sources=sources,
        )

    def resolve(self, model: str, ref: int | str) -> ModelVersion:
        """A version by number (``3``, ``"3"``, ``"v3"``) or by alias (``"champion"``)."""
        if isinstance(ref, int):
            return self.meta.models.get_version(model, ref)
        text = ref.removeprefix("v")
        if text.isdigit():
            return self.meta.models.get_version(model, int(text))
        target = self.meta.models.get_alias(model, ref)
        assert target.version is not None
        return self.meta.models.get_version(model, target.version)

    def load_bytes(self, model: str, ref: int | str) -> bytes:
        """The verified bytes of a version."""
        version = self.resolve(model, ref)
        if version.artifact_digest is None:
            raise NotFoundError(f"{model} v{version.version} has no stored artifact.")
        return self.artifacts.get_bytes(version.artifact_digest)

    def promote(
        self,
        model: str,
        version: int,
        alias: str = "champion",
        *,
        expected_revision: int = ANY_REVISION,
        reason: str = "",
    ) -> AliasTarget:
        """Point ``alias`` at ``version``; with ``expected_revision`` only if nobody moved it since."""
        return self.meta.models.set_alias(
            model, alias, version, expected_revision=expected_revision, actor=self.actor, reason=reason
        )

    def rollback(self, model: str, alias: str = "champion", *, reason: str = "") -> AliasTarget:
        """Move ``alias`` back to the version it pointed at before, atomically against concurrent moves."""
        current = self.meta.models.get_alias(model, alias)
        previous = self.meta.models.previous_version(model, alias)
        if previous is None:
            raise NotFoundError(f"Alias {model}@{alias} has no previous version to roll back to.")
        return self.meta.models.set_alias(
            model,
            alias,
            previous,
            expected_revision=current.revision,
            actor=self.actor,
            reason=reason or f"rollback from v{current.version}",
        )

    def history(self, model: str, alias: str | None = None) -> list[AliasMove]:
        return self.meta.models.alias_history(model, alias)
