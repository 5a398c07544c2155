"""The steps ``ctml bench pipeline`` fans out: importable by name, so process and Ray workers can run them.

One partition is one small training: a seeded logistic regression on a few hundred rows drawn for that
partition (one model per segment, as one model per city would be).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ctml.pipeline import Pipeline, step

__all__ = ["FANOUT", "warm_up"]


def warm_up(_: int) -> None:
    """Import what a partition's training needs, and hold the worker a moment so every worker gets one."""
    import time

    import sklearn.linear_model  # noqa: F401

    time.sleep(0.05)


@step(cache=False)
def partitions(count: int = 1000, rows: int = 2000) -> dict[str, list[int]]:
    return {f"segment-{i:04d}": [i, rows] for i in range(count)}


@step(cache=False)
def train(partitions: list[int], seed: int) -> float:
    from sklearn.linear_model import LogisticRegression

    index, rows = partitions
    rng = np.random.default_rng([seed, index])
    x = rng.normal(size=(rows, 20))
    weights = rng.normal(size=20)
    y = (x @ weights + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    model = LogisticRegression(max_iter=200).fit(x, y)
    return float(model.score(x, y))


@step(cache=False)
def gather(train: dict[str, float]) -> dict[str, Any]:
    scores = np.array(list(train.values()))
    return {"models": len(scores), "mean_train_accuracy": float(scores.mean())}


FANOUT = Pipeline([partitions, train.map(over="partitions"), gather], name="bench-fanout")
