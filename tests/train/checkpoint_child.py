"""Run by test_checkpoint.py in a subprocess: train through ``train(...)`` with a StoreCheckpointer, slowly.

python checkpoint_child.py torch|lightgbm META_URL STORE_PATH RUN_ID
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from ctml.flavors import Checkpointer, Model
from ctml.meta import open_meta
from ctml.store import open_store
from ctml.train import FullHistory, StoreCheckpointer, TrainingData, train

TOTAL = {"torch": 12, "lightgbm": 60}


class Slow(StoreCheckpointer):
    """Saves, then dawdles, so the parent can kill the training between two checkpoints."""

    def save(self, progress: int, state: bytes) -> None:
        super().save(progress, state)
        time.sleep(0.3)


def data() -> TrainingData:
    rng = np.random.default_rng(42)
    X = rng.normal(size=(400, 5))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + 0.2 * rng.normal(size=400) > 0, "up", "down")
    return TrainingData(X, y, ["a", "b", "c", "d", "e"])


def estimator(kind: str) -> Any:
    if kind == "torch":
        import torch

        from ctml.flavors import TorchTabular

        torch.set_num_threads(1)
        return TorchTabular(hidden=(16, 8), epochs=TOTAL[kind], batch_size=64)
    import lightgbm

    return lightgbm.LGBMClassifier(
        n_estimators=TOTAL[kind], num_leaves=8, subsample=0.8, subsample_freq=1, n_jobs=1, verbose=-1
    )


def fit(kind: str, checkpoint: Checkpointer) -> Model:
    return train(FullHistory(), estimator(kind), data(), seed=5, checkpoint=checkpoint).model


if __name__ == "__main__":
    kind, meta_url, store_path, run_id = sys.argv[1:5]
    meta = open_meta(meta_url)
    fit(kind, Slow(open_store(store_path), meta, run_id, "fit"))
