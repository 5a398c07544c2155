"""Training (L2): strategies, seeds, checkpoints in the artifact store, and hyper-parameter search.

:func:`train` runs one :data:`Strategy` (:class:`FullHistory`, :class:`SlidingWindow`, :class:`WarmStart`,
:class:`Incremental`, :class:`FineTune`) for an estimator of any flavor on a :class:`TrainingData` history,
optionally from the champion, and returns a :class:`TrainingResult` whose ``record`` says what was done.
:class:`StoreCheckpointer` keeps a long fit's progress in the artifact and metadata stores so a killed training
resumes; :func:`tune` searches hyper-parameters with Optuna (the ``tune`` extra). ``docs/training.md`` is the guide.

>>> import numpy as np
>>> from sklearn.linear_model import SGDClassifier
>>> rng = np.random.default_rng(7)
>>> X = rng.normal(size=(400, 3))
>>> history = TrainingData(X, np.where(X[:, 0] - X[:, 2] > 0, "up", "down"), ["a", "b", "c"])
>>> first = train(SlidingWindow(rows=300), SGDClassifier(), history.slice(0, 300), seed=0)
>>> again = train(SlidingWindow(rows=300), SGDClassifier(), history.slice(0, 300), seed=0)
>>> bool((first.model.predict(X) == again.model.predict(X)).all()), first.rows
(True, 300)
>>> tuned = train(FineTune(rows=100), SGDClassifier(warm_start=True), history, champion=first.model, seed=0)
>>> tuned.record["mode"], tuned.start
('warm_start', 300)
"""

from ctml.train._checkpoint import CHECKPOINT_TAG, StoreCheckpointer
from ctml.train._data import TrainingData
from ctml.train._strategies import (
    STRATEGIES,
    FineTune,
    FullHistory,
    Incremental,
    Plan,
    SlidingWindow,
    Strategy,
    WarmStart,
)
from ctml.train._train import TrainingResult, record_training, supports, train
from ctml.train._tune import Choice, FloatRange, IntRange, Space, TuneResult, tune

__all__ = [
    "CHECKPOINT_TAG",
    "STRATEGIES",
    "Choice",
    "FineTune",
    "FloatRange",
    "FullHistory",
    "Incremental",
    "IntRange",
    "Plan",
    "SlidingWindow",
    "Space",
    "StoreCheckpointer",
    "Strategy",
    "TrainingData",
    "TrainingResult",
    "TuneResult",
    "WarmStart",
    "record_training",
    "supports",
    "train",
    "tune",
]
