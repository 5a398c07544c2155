"""Seeds are recorded and honoured: the same inputs and seed retrain to the same model, for every strategy on
every flavor it applies to (predictions, probabilities and so every metric are identical)."""

from __future__ import annotations

import numpy as np
import pytest

from ctml.train import STRATEGIES, FineTune, FullHistory, SlidingWindow, Strategy, supports, train

from .streams import FLAVORS, available, estimator, stream


def _strategy(kind: type[Strategy]) -> Strategy:
    if kind in (SlidingWindow, FineTune):
        return kind(rows=120)  # type: ignore[call-arg]
    return kind()


CASES = [(flavor, kind) for flavor in FLAVORS for kind in STRATEGIES]


@pytest.mark.parametrize(("flavor", "kind"), CASES, ids=[f"{f}-{k.name}" for f, k in CASES])
def test_the_same_seed_retrains_the_same_model(flavor: str, kind: type[Strategy]) -> None:
    if not available(flavor):
        pytest.skip(f"{flavor} is not installed")
    strategy = _strategy(kind)
    if not supports(strategy, estimator(flavor)):
        pytest.skip(f"{strategy.name} does not apply to the {flavor} flavor")
    data = stream(300)
    champion = train(FullHistory(), estimator(flavor), data.slice(0, 200), seed=3).model
    first = train(strategy, estimator(flavor), data, champion=champion, seed=11, seen=200)
    again = train(strategy, estimator(flavor), data, champion=champion, seed=11, seen=200)
    probe = stream(200, seed=1).X
    assert np.array_equal(first.model.predict(probe), again.model.predict(probe))
    assert np.array_equal(first.model.predict_proba(probe), again.model.predict_proba(probe))
    accuracy = [float(np.mean(r.model.predict(data.X) == data.y)) for r in (first, again)]
    assert accuracy[0] == accuracy[1]
    assert first.record["seed"] == 11
    assert first.record["flavor"] == flavor
    assert {k: v for k, v in first.record.items() if k != "seconds"} == {
        k: v for k, v in again.record.items() if k != "seconds"
    }


@pytest.mark.parametrize("flavor", ["lightgbm", "xgboost", "river", "torch"])
def test_another_seed_trains_another_model(flavor: str) -> None:
    if not available(flavor):
        pytest.skip(f"{flavor} is not installed")
    data = stream(300)
    probe = stream(200, seed=1).X
    one = train(FullHistory(), estimator(flavor), data, seed=1).model.predict_proba(probe)
    two = train(FullHistory(), estimator(flavor), data, seed=2).model.predict_proba(probe)
    assert not np.array_equal(one, two)
