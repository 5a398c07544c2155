"""A fitted model with its flavor and signature, and the envelope it is saved in.

The envelope is ``MAGIC`` followed by a length-prefixed JSON manifest and the flavor's payload::

    ctml-model\\0 | manifest {flavor, format, ctml, signature, libraries, payload_sha256} | payload

Given the expected digest, :meth:`Model.from_bytes` hashes the whole envelope *first* and refuses a mismatch
before parsing a byte of it; only then is the manifest read and the payload handed to its flavor. A ``pickle``
payload (River) is loaded only in that case.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ctml.clock import Clock, WallClock
from ctml.errors import ConfigError, CorruptArtifactError, UntrustedModelError
from ctml.flavors._base import Checkpointer, Learns, ModelFlavor, pack, unpack
from ctml.flavors._registry import flavor_for, get_flavor
from ctml.flavors._signature import Signature, as_matrix, encode_labels
from ctml.hashing import is_digest, sha256_bytes

__all__ = ["MAGIC", "UNSAFE_FORMATS", "Latency", "Model", "fit_model"]

MAGIC = b"ctml-model\x00"
UNSAFE_FORMATS = frozenset({"pickle"})
"""Payload formats whose loading can run arbitrary code: loaded only after a verified digest."""
_ENVELOPE_VERSION = 1


@dataclass(frozen=True)
class Latency:
    """Prediction latency in milliseconds, for one row and for a batch of ``batch_rows`` rows."""

    row_p50_ms: float
    row_p99_ms: float
    batch_p50_ms: float
    batch_p99_ms: float
    batch_rows: int
    repeats: int


class Model:
    """A fitted model: its flavor, the flavor's fitted object (``estimator``) and its :class:`Signature`.

    Classification labels go in and come out as the caller gave them; flavors see integer codes.

    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = fit_model(LogisticRegression(), X, np.array(["lo", "lo", "hi", "hi"]), feature_names=["x"], seed=0)
    >>> model.predict(np.array([[0.2], [2.9]])).tolist()
    ['lo', 'hi']
    >>> Model.from_bytes(model.to_bytes()).signature == model.signature
    True
    """

    def __init__(self, flavor: ModelFlavor, estimator: Any, signature: Signature) -> None:
        self.flavor = flavor
        self.estimator = estimator
        self.signature = signature
        self._bytes: bytes | None = None

    def __repr__(self) -> str:
        sig = self.signature
        return f"Model(flavor={self.flavor.name!r}, task={sig.task!r}, features={len(sig.feature_names)})"

    @property
    def classes(self) -> np.ndarray | None:
        """The class labels, in the column order of :meth:`predict_proba`; ``None`` for a regressor."""
        return None if self.signature.classes is None else np.asarray(self.signature.classes)

    def predict(self, X: Any, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """Labels (classification) or float64 values (regression), one per row of ``X``."""
        out = self.flavor.predict(self.estimator, self.signature.check(X, feature_names), self.signature)
        classes = self.classes
        return out if classes is None else classes[out]

    def predict_proba(self, X: Any, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities, shape ``(rows, len(classes))``, columns in the order of :attr:`classes`."""
        if self.signature.task != "classification":
            raise ConfigError(
                f"This {self.flavor.name} model is a regressor: it predicts values, not class probabilities. "
                "Call predict() instead."
            )
        if "proba" not in self.flavor.capabilities:
            raise ConfigError(f"The {self.flavor.name} flavor does not give class probabilities.")
        return self.flavor.predict_proba(self.estimator, self.signature.check(X, feature_names), self.signature)

    def partial_fit(self, X: Any, y: Any, feature_names: Sequence[str] | None = None) -> Model:
        """A new model that has also learned from ``X``, ``y``; this one is left as it is."""
        if "incremental" not in self.flavor.capabilities:
            raise ConfigError(
                f"The {self.flavor.name} flavor does not learn incrementally. "
                "Use fit_model(..., init=model) to warm start, or refit."
            )
        X = self.signature.check(X, feature_names)
        y = encode_labels(self.signature, y)
        _same_rows(X, y)
        return Model(self.flavor, self.flavor.partial_fit(self.estimator, X, y, self.signature), self.signature)

    @property
    def learns(self) -> bool:
        """Whether :meth:`learn` works: the flavor declares ``learn`` and this fitted object can."""
        flavor = self.flavor
        return "learn" in flavor.capabilities and isinstance(flavor, Learns) and flavor.learns(self.estimator)

    def learn(self, X: np.ndarray, y: np.ndarray) -> None:
        """Learn checked rows ``X`` (float64, signature order) and encoded labels ``y`` into this model itself.

        The one call that changes a model: what a server does with labels (test-then-train). The cached
        envelope is dropped, so :meth:`to_bytes` writes the learned state."""
        flavor = self.flavor
        if not self.learns or not isinstance(flavor, Learns):
            raise ConfigError(f"This {flavor.name} model does not learn in place ({type(self.estimator).__name__}).")
        flavor.learn(self.estimator, X, y, self.signature)
        self._bytes = None

    def prequential(
        self, X: np.ndarray, lessons: Sequence[tuple[int, np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Test-then-train in one call: predict the checked rows ``X`` in order, learning each lesson ``(k, rows,
        encoded labels)`` just before row ``k`` (``len(X)``: after the last), lessons in order of ``k``.

        Returns what :func:`ctml.flavors.predictor` answers for ``X`` (outputs, probabilities or None), each row
        answered by the model as it was then. A flavor may do it in one pass of its own (River: one dict a row,
        no call per row through ctml); otherwise it is the flavor's own predict and learn, segment by segment."""
        flavor = self.flavor
        if not self.learns or not isinstance(flavor, Learns):
            raise ConfigError(f"This {flavor.name} model does not learn in place ({type(self.estimator).__name__}).")
        for i in range(1, len(lessons)):
            if lessons[i][0] < lessons[i - 1][0]:
                raise ConfigError("prequential lessons must come in the order of the rows they precede.")
        self._bytes = None
        own = getattr(flavor, "prequential", None)
        if callable(own):
            found: tuple[np.ndarray, np.ndarray | None] = own(self.estimator, X, lessons, self.signature)
            return found
        from ctml.flavors._fast import predictor  # _fast imports this module

        answer = predictor(self, fast=False)
        outs: list[np.ndarray] = []
        probas: list[np.ndarray] = []
        start = 0
        for k, rows, y in [*lessons, (len(X), X[:0], None)]:
            if k > start:
                out, proba = answer(X[start:k])
                outs.append(out)
                if proba is not None:
                    probas.append(proba)
                start = k
            if y is not None and len(rows):
                flavor.learn(self.estimator, rows, y, self.signature)
        if not outs:
            return answer(X)
        return np.concatenate(outs), (np.concatenate(probas) if probas else None)

    def to_bytes(self) -> bytes:
        """The envelope: manifest and payload. Equal models give equal bytes within one environment."""
        if self._bytes is None:
            payload = self.flavor.dumps(self.estimator)
            manifest = {
                "envelope": _ENVELOPE_VERSION,
                "flavor": self.flavor.name,
                "format": self.flavor.format,
                "ctml": _version("ctml"),
                "signature": self.signature.to_json(),
                "libraries": {name: _version(name) for name in self.flavor.requires},
                "payload_sha256": sha256_bytes(payload),
            }
            self._bytes = MAGIC + pack(manifest, payload)
        return self._bytes

    @classmethod
    def from_bytes(cls, data: bytes, *, digest: str | None = None) -> Model:
        """The model in an envelope. With ``digest``, ``data`` must hash to it, checked before anything is read.

        A ``pickle`` payload (River) is loaded only with a matching ``digest``: it can run code.
        """
        if digest is not None:
            if not isinstance(digest, str) or not is_digest(digest):
                raise ConfigError(
                    f"A model digest is a sha256 hex digest (64 lowercase hex characters). Got {digest!r}."
                )
            actual = sha256_bytes(data)
            if actual != digest:
                raise CorruptArtifactError(digest, actual, "Model.from_bytes")
        if not data.startswith(MAGIC):
            raise ConfigError("These bytes are not a ctml model: they do not start with the ctml-model marker.")
        manifest, (payload,) = unpack(data[len(MAGIC) :], 1)
        if sha256_bytes(payload) != manifest.get("payload_sha256"):
            raise CorruptArtifactError(str(manifest.get("payload_sha256")), sha256_bytes(payload), "model payload")
        if manifest.get("envelope") != _ENVELOPE_VERSION:
            raise ConfigError(
                f"This model envelope is version {manifest.get('envelope')!r}; this ctml reads version "
                f"{_ENVELOPE_VERSION}. Upgrade ctml to load it."
            )
        flavor = get_flavor(str(manifest["flavor"]))
        if manifest["format"] != flavor.format:
            raise ConfigError(
                f"The model was saved as {manifest['format']!r}, but the {flavor.name} flavor reads {flavor.format!r}."
            )
        if flavor.format in UNSAFE_FORMATS and digest is None:
            raise UntrustedModelError(
                f"This {flavor.name} model is saved as {flavor.format}, which can run code when loaded, so ctml "
                "loads it only from bytes whose sha256 was verified: pass digest=... (the registry and the "
                "artifact store do)."
            )
        signature = Signature.from_json(manifest["signature"])
        return cls(flavor, flavor.loads(payload), signature)

    @property
    def size_bytes(self) -> int:
        """The size of :meth:`to_bytes`."""
        return len(self.to_bytes())

    def latency_probe(
        self,
        X: Any,
        repeats: int = 50,
        *,
        feature_names: Sequence[str] | None = None,
        clock: Clock | None = None,
    ) -> Latency:
        """Time :meth:`predict` on the first row of ``X`` and on all of ``X``, ``repeats`` times each."""
        if repeats < 1:
            raise ConfigError(f"The 'repeats' parameter of latency_probe must be an int >= 1. Got {repeats!r}.")
        clock = clock or WallClock()
        batch = as_matrix(X)
        row = batch[:1]

        def times(rows: np.ndarray) -> np.ndarray:
            self.predict(rows, feature_names)  # warm-up: first calls pay for lazy set-up
            out = np.empty(repeats)
            for i in range(repeats):
                started = clock.monotonic()
                self.predict(rows, feature_names)
                out[i] = (clock.monotonic() - started) * 1000.0
            return out

        single, many = times(row), times(batch)
        return Latency(
            row_p50_ms=float(np.percentile(single, 50)),
            row_p99_ms=float(np.percentile(single, 99)),
            batch_p50_ms=float(np.percentile(many, 50)),
            batch_p99_ms=float(np.percentile(many, 99)),
            batch_rows=len(batch),
            repeats=repeats,
        )


def fit_model(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    feature_names: Sequence[str],
    seed: int,
    init: Model | None = None,
    checkpoint: Checkpointer | None = None,
    flavor: ModelFlavor | str | None = None,
) -> Model:
    """Fit ``estimator`` on ``X``, ``y`` with the flavor its type calls for (or ``flavor``), reproducibly for ``seed``.

    ``init`` warm-starts from a fitted :class:`Model` of the same flavor (its signature, classes included, is
    kept); ``checkpoint`` makes a long training save progress and resume where a killed one stopped.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"The 'seed' parameter of fit_model must be an int. Got {seed!r}.")
    chosen = flavor_for(estimator) if flavor is None else get_flavor(flavor) if isinstance(flavor, str) else flavor
    task = chosen.task_of(estimator)
    if checkpoint is not None and "checkpoint" not in chosen.capabilities:
        raise ConfigError(f"The {chosen.name} flavor does not checkpoint; fit without checkpoint=.")
    if init is None:
        signature = Signature.infer(X, y, feature_names, task)
        matrix = signature.check(X)
    else:
        if init.flavor.name != chosen.name or "warm_start" not in chosen.capabilities:
            raise ConfigError(
                f"A {chosen.name} estimator cannot warm start from a {init.flavor.name} model; "
                "give init= a model of the same flavor, one that supports warm starts."
            )
        if init.signature.task != task:
            raise ConfigError(f"A {task} estimator cannot warm start from a {init.signature.task} model.")
        signature = init.signature
        matrix = signature.check(X, feature_names)
    codes = encode_labels(signature, y)
    _same_rows(matrix, codes)
    fitted = chosen.fit(
        estimator,
        matrix,
        codes,
        signature,
        seed=int(seed),
        init=None if init is None else init.estimator,
        checkpoint=checkpoint,
    )
    return Model(chosen, fitted, signature)


def _same_rows(X: np.ndarray, y: np.ndarray) -> None:
    if len(X) != len(y):
        raise ConfigError(f"X has {len(X)} rows but y has {len(y)} values; they must match.")
    if len(X) == 0:
        raise ConfigError("X and y are empty; a model needs at least one row to learn from.")


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
