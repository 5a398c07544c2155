"""What the conformance suite does not cover: flavor choice, missing extras, the skops allowlist, envelopes,
file checkpoints, signatures, and River's incremental semantics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ctml.errors import (
    ConfigError,
    CorruptArtifactError,
    MissingExtraError,
    NotFoundError,
    SchemaError,
    UntrustedModelError,
)
from ctml.flavors import FileCheckpointer, Model, Signature, TorchTabular, fit_model, flavor_for, get_flavor
from ctml.hashing import sha256_bytes
from ctml.testing.flavors import synthetic_case


def test_importing_flavors_imports_no_model_library() -> None:
    code = (
        "import sys, ctml.flavors;"
        "print(sorted(m for m in ('sklearn', 'skops', 'lightgbm', 'xgboost', 'river', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_flavor_is_chosen_by_type() -> None:
    import lightgbm
    import xgboost
    from river import linear_model
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline

    assert flavor_for(make_pipeline(RandomForestClassifier())).name == "sklearn"
    assert flavor_for(lightgbm.LGBMRegressor()).name == "lightgbm"
    assert flavor_for(xgboost.XGBClassifier()).name == "xgboost"
    assert flavor_for(linear_model.LogisticRegression()).name == "river"
    assert flavor_for(TorchTabular()).name == "torch"
    with pytest.raises(ConfigError, match=r"No model flavor fits a builtins\.object"):
        flavor_for(object())
    with pytest.raises(NotFoundError, match="'catboost'"):
        get_flavor("catboost")


def test_a_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'ctml\[lightgbm\]'"):
        get_flavor("lightgbm").task_of(object())


def test_skops_refuses_types_outside_the_allowlist() -> None:
    import lightgbm
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    case = synthetic_case(lambda: make_pipeline(StandardScaler(), lightgbm.LGBMClassifier(n_estimators=3)), "x")
    model = fit_model(case.make(), case.X, case.y > 0, feature_names=case.feature_names, seed=0)
    data = model.to_bytes()
    with pytest.raises(UntrustedModelError, match=r"lightgbm\.sklearn\.LGBMClassifier"):
        Model.from_bytes(data, digest=sha256_bytes(data))


def test_envelope_errors_are_clear() -> None:
    from sklearn.linear_model import Ridge

    case = synthetic_case(Ridge, "regression")
    model = case.fit()
    data = model.to_bytes()
    with pytest.raises(ConfigError, match="sha256 hex digest"):
        Model.from_bytes(data, digest="abc")
    with pytest.raises(ConfigError, match="not a ctml model"):
        Model.from_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ConfigError, match="framing is broken"):
        Model.from_bytes(data[:-10])
    with pytest.raises(ConfigError, match="regressor"):
        model.predict_proba(case.X)
    with pytest.raises(ConfigError, match="does not checkpoint"):
        case.fit(checkpoint=FileCheckpointer("/nonexistent/never-written"))


def test_file_checkpointer_is_atomic_and_verified(tmp_path: Path) -> None:
    checkpointer = FileCheckpointer(tmp_path / "deep" / "run.ckpt")
    checkpointer.save(1, b"one")
    checkpointer.save(2, b"two")
    assert checkpointer.load() == (2, b"two")
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["run.ckpt"]
    raw = checkpointer.path.read_bytes()
    checkpointer.path.write_bytes(raw[:-1] + b"X")
    with pytest.raises(CorruptArtifactError):
        checkpointer.load()


def test_signature_round_trips_and_names_columns() -> None:
    X = np.arange(6.0).reshape(3, 2)
    signature = Signature.infer(X, np.array([True, False, True]), ["a", "b"], "classification")
    assert signature.classes == (False, True)
    assert Signature.from_json(signature.to_json()) == signature
    with pytest.raises(SchemaError, match="3 columns but 2 feature names"):
        Signature.infer(np.zeros((2, 3)), np.zeros(2), ["a", "b"], "regression")
    with pytest.raises(SchemaError) as raised:
        signature.check(X, ["a", "z"])
    assert raised.value.column == "b"


def test_river_updates_equal_one_pass_over_all_rows() -> None:
    from river import linear_model

    case = synthetic_case(linear_model.LogisticRegression, "classification")
    y = case.y == "high"
    whole = fit_model(case.make(), case.X, y, feature_names=case.feature_names, seed=0)
    first = fit_model(case.make(), case.X[:100], y[:100], feature_names=case.feature_names, seed=0)
    updated = first.partial_fit(case.X[100:], y[100:])
    assert np.array_equal(updated.predict_proba(case.X), whole.predict_proba(case.X))
    assert updated.predict(case.X[:3]).dtype == np.bool_


def test_seeds_reach_every_random_state_in_a_pipeline() -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline

    case = synthetic_case(lambda: make_pipeline(RandomForestClassifier(n_estimators=5)), "classification")
    model = case.fit(seed=42)
    assert model.estimator.get_params()["randomforestclassifier__random_state"] == 42
    assert not np.array_equal(model.predict_proba(case.X), case.fit(seed=43).predict_proba(case.X))
