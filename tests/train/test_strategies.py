"""Strategies: validated parameters, the rows each one plans, and the errors for what a flavor cannot do."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, SGDClassifier, SGDRegressor
from sklearn.tree import DecisionTreeClassifier

from ctml.errors import ConfigError
from ctml.meta import open_meta
from ctml.train import (
    STRATEGIES,
    FineTune,
    FullHistory,
    Incremental,
    SlidingWindow,
    TrainingData,
    WarmStart,
    record_training,
    supports,
    train,
)

from .streams import stream


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SlidingWindow(rows=0), "The 'rows' parameter of SlidingWindow must be an int >= 1. Got 0 instead."),
        (lambda: SlidingWindow(rows=2.5), "The 'rows' parameter of SlidingWindow must be an int >= 1. Got 2.5"),
        (lambda: SlidingWindow(seconds=-1), "The 'seconds' parameter of SlidingWindow must be a number > 0. Got -1"),
        (SlidingWindow, "SlidingWindow needs exactly one of 'rows' and 'seconds'. Got neither."),
        (lambda: FineTune(rows=5, seconds=60), "FineTune needs exactly one of 'rows' and 'seconds'. Got both."),
        (lambda: FineTune(rows=True), "The 'rows' parameter of FineTune must be an int >= 1. Got True"),
    ],
)
def test_parameters_are_checked_with_scikit_learn_messages(build: object, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        build()  # type: ignore[operator]
    assert str(error.value).startswith(message)


def test_strategies_are_frozen_and_their_params_are_json() -> None:
    strategy = SlidingWindow(rows=10)
    with pytest.raises(AttributeError):
        strategy.rows = 3  # type: ignore[misc]
    for kind in STRATEGIES:
        instance = kind(rows=4) if kind in (SlidingWindow, FineTune) else kind()  # type: ignore[call-arg]
        assert json.loads(json.dumps(instance.params())) == instance.params()


def test_each_strategy_plans_its_rows() -> None:
    data = stream(100)  # one row a minute
    assert FullHistory().plan(data, has_champion=True, seen=None).start == 0
    assert SlidingWindow(rows=30).plan(data, has_champion=False, seen=None).start == 70
    assert SlidingWindow(seconds=600).plan(data, has_champion=False, seen=None).start == 90  # (t_end - 600, t_end]
    assert WarmStart().plan(data, has_champion=True, seen=None).mode == "warm_start"
    assert WarmStart().plan(data, has_champion=False, seen=None).mode == "fit"
    assert Incremental().plan(data, has_champion=True, seen=60).start == 60
    assert Incremental().plan(data, has_champion=False, seen=None).mode == "fit"
    tuned = FineTune(seconds=1200).plan(data, has_champion=True, seen=None)
    assert (tuned.start, tuned.stop, tuned.mode) == (80, 100, "warm_start")


def test_a_window_in_seconds_needs_times_and_times_must_not_decrease() -> None:
    data = stream(50)
    untimed = TrainingData(data.X, data.y, data.feature_names)
    with pytest.raises(ConfigError, match="needs each row's time"):
        train(SlidingWindow(seconds=60), SGDClassifier(), untimed, seed=0)
    with pytest.raises(ConfigError, match="row 2 is earlier"):
        TrainingData(data.X[:3], data.y[:3], data.feature_names, time=np.array([0, 5, 4]))
    stamps = np.array(["2024-01-01T00:00", "2024-01-01T01:00", "2024-01-01T02:00"], dtype="datetime64[m]")
    timed = TrainingData(data.X[:3], data.y[:3], data.feature_names, time=stamps)
    assert timed.window(seconds=3600) == 2
    assert timed.time_range() == (1704067200.0, 1704074400.0)


def test_unsupported_strategies_fail_before_training() -> None:
    data = stream(80)
    assert not supports(Incremental(), LogisticRegression())
    with pytest.raises(ConfigError, match=r"Incremental strategy cannot train LogisticRegression: .*no partial_fit"):
        train(Incremental(), LogisticRegression(), data, seed=0)
    with pytest.raises(ConfigError, match="DecisionTreeClassifier has no warm_start parameter"):
        train(WarmStart(), DecisionTreeClassifier(), data, seed=0)
    pytest.importorskip("torch")
    from ctml.flavors import TorchTabular

    assert not supports(Incremental(), TorchTabular())
    with pytest.raises(ConfigError, match="torch flavor has no 'incremental' capability"):
        train(Incremental(), TorchTabular(), data, seed=0)


def test_incremental_needs_seen_and_learns_only_new_rows() -> None:
    data = stream(120)
    first = train(FullHistory(), SGDClassifier(), data.slice(0, 80), seed=0)
    with pytest.raises(ConfigError, match="needs seen=N"):
        train(Incremental(), SGDClassifier(), data, champion=first.model, seed=0)
    with pytest.raises(ConfigError, match="'seen' parameter of train must be an int in \\[0, 120\\]"):
        train(Incremental(), SGDClassifier(), data, champion=first.model, seed=0, seen=500)
    update = train(Incremental(), SGDClassifier(), data, champion=first.model, seed=0, seen=first.stop)
    by_hand = first.model.partial_fit(data.X[80:], data.y[80:])
    assert np.array_equal(update.model.predict(data.X), by_hand.predict(data.X))
    assert (update.start, update.stop, update.rows) == (80, 120, 40)
    same = train(Incremental(), SGDClassifier(), data, champion=update.model, seed=0, seen=120)
    assert same.model is update.model
    assert same.record["mode"] == "unchanged"


def test_the_champion_is_never_changed() -> None:
    data = stream(120)
    first = train(FullHistory(), SGDClassifier(warm_start=True), data.slice(0, 80), seed=0)
    before = first.model.to_bytes()
    for strategy in (WarmStart(), FineTune(rows=20), Incremental()):
        train(strategy, SGDClassifier(warm_start=True), data, champion=first.model, seed=0, seen=80)
    assert first.model.to_bytes() == before


def test_a_champion_of_another_flavor_is_refused_for_continuing_strategies() -> None:
    pytest.importorskip("lightgbm")
    import lightgbm

    data = stream(120)
    first = train(FullHistory(), SGDClassifier(warm_start=True), data, seed=0)
    with pytest.raises(ConfigError, match="cannot continue from a sklearn champion"):
        train(WarmStart(), lightgbm.LGBMClassifier(n_estimators=2), data, champion=first.model, seed=0)
    replaced = train(
        FullHistory(), lightgbm.LGBMClassifier(n_estimators=2, verbose=-1), data, champion=first.model, seed=0
    )
    assert replaced.model.flavor.name == "lightgbm"


def test_the_record_is_json_and_says_what_was_done(tmp_path: object) -> None:
    data = stream(100)
    first = train(FullHistory(), SGDRegressor(), TrainingData(data.X, data.X[:, 0] * 2.0, data.feature_names), seed=4)
    result = train(SlidingWindow(seconds=1800), SGDClassifier(), data, champion=first.model, seed=9)
    record = json.loads(json.dumps(result.record))
    assert record["strategy"] == {"name": "sliding_window", "params": {"rows": None, "seconds": 1800.0}}
    assert record["mode"] == "fit"
    assert record["rows"] == {"start": 70, "stop": 100, "count": 30, "history": 100}
    assert record["time"] == {"start": 70 * 60.0, "end": 99 * 60.0}
    assert record["seed"] == 9
    assert record["flavor"] == "sklearn"
    assert record["estimator"]["type"] == "sklearn.linear_model._stochastic_gradient.SGDClassifier"
    assert record["estimator"]["params"]["loss"] == "hinge"
    assert record["champion"] is None  # a fresh fit does not start from it
    assert set(record["libraries"]) >= {"ctml", "scikit-learn", "numpy"}
    assert result.seconds >= 0

    with open_meta(f"sqlite:///{tmp_path}/meta.db") as meta:
        run_id = meta.runs.create("retrain")
        record_training(meta, run_id, result)
        run = meta.runs.get(run_id)
    assert run.params == {"train.strategy": "sliding_window", "train.seed": "9", "train.rows": "30"}
    assert json.loads(run.tags["ctml.train.train"]) == record
    assert "train.seconds" in run.metrics


def test_bad_arguments_are_config_errors() -> None:
    data = stream(20)
    with pytest.raises(ConfigError, match="takes a strategy"):
        train("full", SGDClassifier(), data, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape("The 'seed' parameter of train must be an int. Got 1.5")):
        train(FullHistory(), SGDClassifier(), data, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="3 columns but 4 feature names"):
        TrainingData(np.zeros((2, 3)), np.zeros(2), ["a", "b", "c", "d"])
