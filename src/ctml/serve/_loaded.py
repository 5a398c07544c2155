"""A model version loaded for serving: verified, warmed, and ready to predict on a checked matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ctml.errors import NotFoundError
from ctml.flavors import Model, Predictor, predictor
from ctml.registry import ModelRegistry
from ctml.serve._codec import RowCodec

__all__ = ["LoadedModel", "load_version", "with_model"]


@dataclass(frozen=True)
class LoadedModel:
    """One model version in memory, with the codec built from its signature."""

    model: str
    version: int
    digest: str
    loaded: Model
    codec: RowCodec
    classes: tuple[Any, ...] | None
    outputs: Predictor

    def predict(self, X: np.ndarray) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions and (for classifiers with probabilities) class probabilities, as JSON-ready lists.

        ``X`` comes from :attr:`codec`: float64, in training column order, finite. :attr:`outputs` answers
        without the signature check :meth:`Model.predict` repeats, in one call (see
        :func:`ctml.flavors.predictor`). A NaN or an infinity in the outputs is a ``ValueError`` (JSON has no
        such numbers): the server answers 500 and logs the failure.
        """
        return self.answers(*self.outputs(X))

    def answers(self, out: np.ndarray, proba: np.ndarray | None) -> tuple[list[Any], list[list[float]] | None]:
        """A predictor's outputs and probabilities as :meth:`predict` answers them (see there)."""
        if self.classes is None:
            if not np.isfinite(out).all():
                raise ValueError(f"The model returned NaN or an infinity for {_count(out)} of {len(out)} rows.")
            return out.tolist(), None
        classes = self.classes
        labels = [classes[i] for i in out.tolist()]
        if proba is None:
            return labels, None
        if not np.isfinite(proba).all():
            raise ValueError(f"The model returned a NaN or infinite probability in {_count(proba)} of {len(out)} rows.")
        return labels, proba.tolist()


def _count(values: np.ndarray) -> int:
    bad = ~np.isfinite(values)
    return int((bad.any(axis=1) if bad.ndim > 1 else bad).sum())


def load_version(
    registry: ModelRegistry, model: str, version: int, *, max_rows: int, fast_path: bool = True
) -> LoadedModel:
    """Load ``model`` v``version`` from the registry, verify its digest, and warm it with one prediction.

    ``fast_path``: answer through :func:`ctml.flavors.predictor`'s verified linear path where it applies.
    """
    record = registry.resolve(model, version)
    digest = record.artifact_digest
    if digest is None:
        raise NotFoundError(f"{model} v{version} has no stored artifact to serve.")
    data = registry.artifacts.get_bytes(digest)  # hashed while read: a tampered artifact never loads
    loaded = Model.from_bytes(data, digest=digest)
    codec = RowCodec(loaded.signature, max_rows=max_rows)
    return _warm(LoadedModel(model, version, digest, loaded, codec, loaded.signature.classes,
                             predictor(loaded, fast=fast_path and not loaded.learns)))  # fmt: skip


def with_model(served: LoadedModel, model: Model) -> LoadedModel:
    """``served`` answering from ``model`` instead (a learned snapshot of the same version and signature)."""
    if model.signature != served.loaded.signature:
        raise NotFoundError(f"A snapshot of {served.model} v{served.version} has another signature than the version.")
    return _warm(LoadedModel(served.model, served.version, served.digest, model, served.codec, served.classes,
                             predictor(model, fast=False)))  # fmt: skip


def _warm(served: LoadedModel) -> LoadedModel:
    served.outputs(np.zeros((1, len(served.loaded.signature.feature_names))))  # first calls pay for lazy set-up
    return served
