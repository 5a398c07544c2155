"""The model flavor conformance suite: the checks every :class:`~ctml.flavors.ModelFlavor` must pass.

Each check is a plain function taking a :class:`FlavorCase` — a factory of fresh, unfitted estimators with data
they can learn from — and raising ``AssertionError`` saying what was wrong. Checks for warm starts, incremental
updates and checkpoints run only where the flavor declares the capability and the case supports it.

Run them all with :func:`check_flavor`, or one test per check with pytest::

    @pytest.mark.parametrize("check", FLAVOR_CHECKS, ids=lambda check: check.__name__)
    def test_conformance(check):
        check(synthetic_case(DecisionTreeClassifier, "classification"))

>>> from sklearn.linear_model import LogisticRegression
>>> check_flavor(synthetic_case(LogisticRegression, "classification", unsupported=frozenset({"incremental"})))
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ctml.errors import ConfigError, CorruptArtifactError, SchemaError, UntrustedModelError
from ctml.flavors import Model, fit_model, flavor_for
from ctml.flavors._base import pack
from ctml.flavors._model import MAGIC, UNSAFE_FORMATS
from ctml.hashing import sha256_bytes
from ctml.testing._assertions import expect as _expect
from ctml.testing._assertions import raises as _raises

__all__ = [
    "FLAVOR_CHECKS",
    "FlavorCase",
    "InterruptingCheckpointer",
    "MemoryCheckpointer",
    "TrainingInterrupted",
    "check_checkpoint_resume",
    "check_digest_mismatch_refused",
    "check_fit_predict_shapes",
    "check_flavor",
    "check_incremental",
    "check_predict_proba",
    "check_round_trip",
    "check_seed_reproducible",
    "check_signature_errors",
    "check_size_and_latency",
    "check_warm_start",
    "synthetic_case",
]


@dataclass(frozen=True)
class FlavorCase:
    """An estimator factory and data to check it on; ``unsupported`` lists capabilities this estimator lacks
    although its flavor declares them (a scikit-learn estimator without ``partial_fit``, say)."""

    make: Callable[[], Any]
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    unsupported: frozenset[str] = field(default_factory=frozenset)

    def fit(self, seed: int = 0, rows: slice = slice(None), **options: Any) -> Model:
        return fit_model(
            self.make(), self.X[rows], self.y[rows], feature_names=self.feature_names, seed=seed, **options
        )

    def supports(self, capability: str) -> bool:
        return capability in flavor_for(self.make()).capabilities and capability not in self.unsupported


def synthetic_case(
    make: Callable[[], Any], task: str, *, rows: int = 240, features: int = 4, seed: int = 0, **kwargs: Any
) -> FlavorCase:
    """A case on seeded synthetic data: three string classes, or a noisy linear target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    score = X @ np.linspace(1.0, -0.5, features) + 0.3 * rng.normal(size=rows)
    if task == "classification":
        y: np.ndarray = np.array(["low", "mid", "high"])[np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))]
    else:
        y = score
    return FlavorCase(make, X, y, tuple(f"f{j}" for j in range(features)), **kwargs)


class MemoryCheckpointer:
    """A checkpoint held in memory, with every save kept in ``saves`` for inspection."""

    def __init__(self) -> None:
        self.saves: list[int] = []
        self._state: tuple[int, bytes] | None = None

    def load(self) -> tuple[int, bytes] | None:
        return self._state

    def save(self, progress: int, state: bytes) -> None:
        self.saves.append(progress)
        self._state = (progress, state)


class TrainingInterrupted(Exception):
    """Raised by :class:`InterruptingCheckpointer`: a stand-in for a kill or preemption."""


class InterruptingCheckpointer(MemoryCheckpointer):
    """Saves like :class:`MemoryCheckpointer`, then raises :class:`TrainingInterrupted` after ``after`` saves."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def save(self, progress: int, state: bytes) -> None:
        super().save(progress, state)
        if len(self.saves) == self.after:
            raise TrainingInterrupted(f"interrupted after saving progress {progress}")


def _outputs(model: Model, X: np.ndarray) -> list[np.ndarray]:
    out = [model.predict(X)]
    if model.signature.task == "classification" and "proba" in model.flavor.capabilities:
        out.append(model.predict_proba(X))
    return out


def _same(a: Model, b: Model, X: np.ndarray) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_outputs(a, X), _outputs(b, X), strict=True))


# --- the checks --------------------------------------------------------------------------------------------


def check_fit_predict_shapes(case: FlavorCase) -> None:
    """``predict`` gives one value per row: a known label, or a finite float for a regressor."""
    model = case.fit()
    out = model.predict(case.X)
    _expect(out.shape == (len(case.X),), f"predict returned shape {out.shape}, expected ({len(case.X)},)")
    if model.signature.task == "classification":
        _expect(
            model.signature.classes == tuple(np.unique(case.y).tolist()),
            f"signature classes {model.signature.classes} are not the sorted labels of y",
        )
        _expect(set(out.tolist()) <= set(case.y.tolist()), f"predict returned labels not in y: {set(out.tolist())}")
    else:
        _expect(out.dtype == np.float64 and bool(np.all(np.isfinite(out))), "a regressor must predict finite floats")
    _expect(model.signature.feature_names == case.feature_names, "the signature lost the feature names")


def check_predict_proba(case: FlavorCase) -> None:
    """Probabilities have one column per class, in the signature's order, and rows that sum to 1;
    a regressor refuses ``predict_proba`` with a :class:`ConfigError`."""
    model = case.fit()
    if model.signature.task == "regression":
        with _raises(ConfigError, "predict_proba of a regressor"):
            model.predict_proba(case.X)
        return
    if "proba" not in model.flavor.capabilities:
        return
    proba = model.predict_proba(case.X)
    k = len(model.signature.classes or ())
    _expect(
        proba.shape == (len(case.X), k), f"predict_proba returned shape {proba.shape}, expected ({len(case.X)}, {k})"
    )
    _expect(bool(np.all(proba >= 0)), "predict_proba returned negative probabilities")
    _expect(bool(np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)), "predict_proba rows do not sum to 1")
    classes = model.classes
    _expect(classes is not None and classes.tolist() == sorted(set(case.y.tolist())), "classes are not sorted labels")


def check_round_trip(case: FlavorCase) -> None:
    """``to_bytes``/``from_bytes`` and the flavor's ``dumps``/``loads`` give a model that predicts identically."""
    model = case.fit()
    data = model.to_bytes()
    loaded = Model.from_bytes(data, digest=sha256_bytes(data))
    _expect(loaded.signature == model.signature, "the signature changed in the round trip")
    _expect(loaded.flavor.name == model.flavor.name, "the flavor changed in the round trip")
    _expect(_same(model, loaded, case.X), "a loaded model predicts differently from the one saved")
    again = loaded.flavor.loads(model.flavor.dumps(model.estimator))
    _expect(_same(model, Model(model.flavor, again, model.signature), case.X), "dumps/loads changed predictions")


_TRIPPED: list[str] = []


def _tripwire(note: str) -> None:
    _TRIPPED.append(note)


class _Tripwire:
    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return (_tripwire, ("unpickled",))


def check_digest_mismatch_refused(case: FlavorCase) -> None:
    """Bytes that do not hash to the expected digest are refused with :class:`CorruptArtifactError` before any of
    them is parsed: a payload that would run code when unpickled is never unpickled."""
    model = case.fit()
    data = model.to_bytes()
    digest = sha256_bytes(data)
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with _raises(CorruptArtifactError, "from_bytes of tampered bytes"):
        Model.from_bytes(tampered, digest=digest)
    manifest = {
        "envelope": 1,
        "flavor": model.flavor.name,
        "format": model.flavor.format,
        "signature": model.signature.to_json(),
    }
    trap = pickle.dumps(_Tripwire())
    hostile = MAGIC + pack({**manifest, "payload_sha256": sha256_bytes(trap)}, trap)
    _TRIPPED.clear()
    with _raises(CorruptArtifactError, "from_bytes of a hostile payload under another digest"):
        Model.from_bytes(hostile, digest=digest)
    _expect(not _TRIPPED, "from_bytes unpickled a payload whose digest did not match")
    if model.flavor.format in UNSAFE_FORMATS:
        with _raises(UntrustedModelError, f"from_bytes of a {model.flavor.format} model without a digest"):
            Model.from_bytes(hostile)
        _expect(not _TRIPPED, "from_bytes unpickled a payload without a verified digest")
    with _raises(ConfigError, "from_bytes of bytes that are not a model"):
        Model.from_bytes(b"not a model")


def check_seed_reproducible(case: FlavorCase) -> None:
    """Fitting twice with one seed on the same data gives identical predictions (and probabilities)."""
    first, second = case.fit(seed=11), case.fit(seed=11)
    _expect(_same(first, second, case.X), "two fits with seed=11 predict differently")


def check_signature_errors(case: FlavorCase) -> None:
    """Missing, extra and non-numeric columns raise :class:`SchemaError` naming the column; columns given in
    another order are put back in training order."""
    model = case.fit()
    names = list(case.feature_names)
    with _raises(SchemaError, "predict with a column missing") as raised:
        model.predict(case.X[:, 1:], names[1:])
    _expect(repr(names[0]) in str(raised.value), f"the error does not name the missing column: {raised.value}")
    with _raises(SchemaError, "predict with an extra column") as raised:
        model.predict(np.column_stack([case.X, case.X[:, 0]]), [*names, "surprise"])
    _expect("'surprise'" in str(raised.value), f"the error does not name the extra column: {raised.value}")
    with _raises(SchemaError, "predict with too few columns and no names"):
        model.predict(case.X[:, 1:])
    bad = case.X[:3].astype(object)
    bad[1, -1] = "n/a"
    with _raises(SchemaError, "predict with a non-numeric value") as raised:
        model.predict(bad, names)
    _expect(repr(names[-1]) in str(raised.value), f"the error does not name the non-numeric column: {raised.value}")
    order = names[::-1]
    shuffled = model.predict(case.X[:, ::-1], order)
    _expect(np.array_equal(shuffled, model.predict(case.X)), "reordered columns gave other predictions")


def check_size_and_latency(case: FlavorCase) -> None:
    """``size_bytes`` is the envelope's size, and the latency probe reports sane percentiles."""
    model = case.fit()
    _expect(model.size_bytes == len(model.to_bytes()) > 0, "size_bytes must be the positive size of to_bytes()")
    probe = model.latency_probe(case.X[:50], repeats=5)
    _expect(0 < probe.row_p50_ms <= probe.row_p99_ms, f"row latency percentiles are not sane: {probe}")
    _expect(0 < probe.batch_p50_ms <= probe.batch_p99_ms, f"batch latency percentiles are not sane: {probe}")
    _expect(probe.batch_rows == 50 and probe.repeats == 5, f"the probe did not time what it was asked: {probe}")


def check_warm_start(case: FlavorCase) -> None:
    """``fit(init=model)`` continues from the model: it keeps its signature, leaves it unchanged, and differs from
    a fresh fit on the same rows. Flavors without ``warm_start`` refuse ``init`` with a :class:`ConfigError`."""
    half = len(case.X) // 2
    first = case.fit(rows=slice(None, half))
    if not case.supports("warm_start"):
        if "warm_start" not in first.flavor.capabilities:
            with _raises(ConfigError, "fit(init=...) on a flavor without warm_start"):
                case.fit(rows=slice(half, None), init=first)
        return
    before = _outputs(first, case.X)
    warm = case.fit(rows=slice(half, None), init=first)
    fresh = case.fit(rows=slice(half, None))
    _expect(warm.signature == first.signature, "a warm start changed the signature")
    _expect(
        all(np.array_equal(a, b) for a, b in zip(before, _outputs(first, case.X), strict=True)),
        "a warm start changed the model it started from",
    )
    _expect(not _same(warm, fresh, case.X), "a warm start predicts exactly like a fresh fit: was init ignored?")


def check_incremental(case: FlavorCase) -> None:
    """``partial_fit`` returns an updated model and leaves the original unchanged; an unknown label is refused.
    Flavors without ``incremental`` refuse with a :class:`ConfigError`."""
    half = len(case.X) // 2
    model = case.fit(rows=slice(None, half))
    if not case.supports("incremental"):
        if "incremental" not in model.flavor.capabilities:
            with _raises(ConfigError, "partial_fit on a flavor without incremental"):
                model.partial_fit(case.X[half:], case.y[half:])
        return
    before = _outputs(model, case.X)
    updated = model.partial_fit(case.X[half:], case.y[half:], case.feature_names)
    _expect(updated.signature == model.signature, "partial_fit changed the signature")
    _expect(
        all(np.array_equal(a, b) for a, b in zip(before, _outputs(model, case.X), strict=True)),
        "partial_fit changed the model it was called on",
    )
    _expect(not _same(updated, model, case.X), "partial_fit changed nothing")
    _expect(updated.predict(case.X).shape == (len(case.X),), "an updated model predicts the wrong shape")
    if model.signature.task == "classification":
        known = model.signature.classes or ()
        unseen = "__unseen__" if isinstance(known[0], str) else max(known) + 1
        unknown = np.array([unseen, unseen])
        with _raises(SchemaError, "partial_fit with a label the model does not know"):
            model.partial_fit(case.X[:2], unknown)


def check_checkpoint_resume(case: FlavorCase) -> None:
    """A training interrupted after two checkpoints and resumed gives the model an uninterrupted one gives; a
    finished checkpoint is reused; another training's checkpoint is refused. Flavors without ``checkpoint``
    refuse ``checkpoint=`` with a :class:`ConfigError`."""
    if not case.supports("checkpoint"):
        with _raises(ConfigError, "fit(checkpoint=...) on a flavor without checkpoint"):
            case.fit(checkpoint=MemoryCheckpointer())
        return
    whole = MemoryCheckpointer()
    uninterrupted = case.fit(seed=3, checkpoint=whole)
    _expect(len(whole.saves) >= 3, f"expected progress to be saved at least 3 times, got {whole.saves}")
    _expect(whole.saves == sorted(whole.saves), f"progress went backwards: {whole.saves}")
    broken = InterruptingCheckpointer(after=2)
    with _raises(TrainingInterrupted, "a training whose checkpointer interrupts it"):
        case.fit(seed=3, checkpoint=broken)
    broken.after = -1
    resumed = case.fit(seed=3, checkpoint=broken)
    _expect(broken.saves[2] > broken.saves[1], f"the resumed training started over: saves {broken.saves}")
    _expect(_same(resumed, uninterrupted, case.X), "a resumed training predicts differently from an uninterrupted one")
    count = len(whole.saves)
    reused = case.fit(seed=3, checkpoint=whole)
    _expect(len(whole.saves) == count, "a finished checkpoint was trained again")
    _expect(_same(reused, uninterrupted, case.X), "a model rebuilt from a finished checkpoint differs")
    with _raises(ConfigError, "resuming another training's checkpoint"):
        case.fit(seed=4, checkpoint=whole)


FLAVOR_CHECKS: tuple[Callable[[FlavorCase], None], ...] = (
    check_fit_predict_shapes,
    check_predict_proba,
    check_round_trip,
    check_digest_mismatch_refused,
    check_seed_reproducible,
    check_signature_errors,
    check_size_and_latency,
    check_warm_start,
    check_incremental,
    check_checkpoint_resume,
)
"""Every check, in the order :func:`check_flavor` runs them."""


def check_flavor(case: FlavorCase, checks: Sequence[Callable[[FlavorCase], None]] = FLAVOR_CHECKS) -> None:
    """Run ``checks`` (all of them by default); the first failure propagates, noting which check it was."""
    for check in checks:
        try:
            check(case)
        except Exception as exc:
            exc.add_note(f"in flavor check {check.__name__}")
            raise
