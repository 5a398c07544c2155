"""The flavor conformance suite over all five flavors, on a slice of elec2 (classification and regression)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from ctml.flavors import SklearnFlavor, register_flavor
from ctml.testing.flavors import FLAVOR_CHECKS, FlavorCase, check_flavor, synthetic_case

from . import elec2


def _case(make: Callable[[], Any], task: str, unsupported: frozenset[str] = frozenset()) -> FlavorCase:
    if not elec2.available():
        return synthetic_case(make, task, unsupported=unsupported)
    X, y, names = elec2.classification(400) if task == "classification" else elec2.regression(400)
    return FlavorCase(make, X, y, names, unsupported)


def _sklearn_sgd() -> Any:
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss")


def _sklearn_pipeline() -> Any:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=10, max_depth=4))


def _lgbm(task: str) -> Callable[[], Any]:
    def make() -> Any:
        import lightgbm

        kind = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
        return kind(n_estimators=30, num_leaves=8, subsample=0.8, subsample_freq=1, n_jobs=1)

    return make


def _xgb(task: str) -> Callable[[], Any]:
    def make() -> Any:
        import xgboost

        kind = xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor
        return kind(n_estimators=30, max_depth=3, subsample=0.8, n_jobs=1)

    return make


def _river_arf() -> Any:
    from river import forest

    return forest.ARFClassifier(n_models=3)


def _river_tree() -> Any:
    from river import tree

    return tree.HoeffdingTreeClassifier()


def _river_linear() -> Any:
    from river import linear_model, preprocessing

    return preprocessing.StandardScaler() | linear_model.LinearRegression()


def _torch(task: str) -> Callable[[], Any]:
    def make() -> Any:
        from ctml.flavors import TorchTabular

        return TorchTabular(hidden=(16, 8), epochs=4, batch_size=64, task=task)  # type: ignore[arg-type]

    return make


CASES: dict[str, tuple[str, Callable[[], FlavorCase]]] = {
    "sklearn-sgd": ("sklearn", lambda: _case(_sklearn_sgd, "classification")),
    # A random forest has warm_start, but a warm start with the same n_estimators adds no trees.
    "sklearn-pipeline-regression": (
        "sklearn",
        lambda: _case(_sklearn_pipeline, "regression", frozenset({"warm_start", "incremental"})),
    ),
    "lightgbm": ("lightgbm", lambda: _case(_lgbm("classification"), "classification")),
    "lightgbm-regression": ("lightgbm", lambda: _case(_lgbm("regression"), "regression")),
    "xgboost": ("xgboost", lambda: _case(_xgb("classification"), "classification")),
    "xgboost-regression": ("xgboost", lambda: _case(_xgb("regression"), "regression")),
    "river-arf": ("river", lambda: _case(_river_arf, "classification")),
    "river-hoeffding": ("river", lambda: _case(_river_tree, "classification")),
    "river-linear-regression": ("river", lambda: _case(_river_linear, "regression")),
    "torch": ("torch", lambda: _case(_torch("classification"), "classification")),
    "torch-regression": ("torch", lambda: _case(_torch("regression"), "regression")),
}


@pytest.mark.parametrize("check", FLAVOR_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", sorted(CASES))
def test_conformance(name: str, check: Callable[[FlavorCase], None]) -> None:
    module, case = CASES[name]
    pytest.importorskip(module)
    check(case())


class Forgetful(SklearnFlavor):
    """A scikit-learn flavor whose ``loads`` hands back a model refitted on other data."""

    def loads(self, data: bytes) -> Any:
        model = super().loads(data)
        rng = np.random.default_rng(0)
        return model.fit(rng.normal(size=(30, model.n_features_in_)), np.arange(30) % 3)


def test_a_broken_flavor_fails_the_suite() -> None:
    """The suite can fail: a flavor whose round trip changes the model is caught."""
    from sklearn.linear_model import LogisticRegression

    case = synthetic_case(LogisticRegression, "classification")
    register_flavor("sklearn", f"{__name__}:Forgetful", ("sklearn",))
    try:
        with pytest.raises(AssertionError, match="predicts differently"):
            check_flavor(case)
    finally:
        register_flavor("sklearn", "ctml.flavors._sklearn:SklearnFlavor", ("sklearn",))
