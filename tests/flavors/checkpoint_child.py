"""Run by test_checkpoint_kill.py in a subprocess: train with a FileCheckpointer, slowly, until killed.

python checkpoint_child.py torch|lightgbm CHECKPOINT_PATH
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import elec2

from ctml.flavors import FileCheckpointer, Model, fit_model


class Slow(FileCheckpointer):
    """Saves, then dawdles, so the parent can kill the training between two checkpoints."""

    def save(self, progress: int, state: bytes) -> None:
        super().save(progress, state)
        time.sleep(0.3)


def estimator(kind: str) -> object:
    if kind == "torch":
        import torch

        from ctml.flavors import TorchTabular

        torch.set_num_threads(1)
        return TorchTabular(hidden=(16, 8), epochs=12, batch_size=64)
    import lightgbm

    return lightgbm.LGBMClassifier(n_estimators=60, num_leaves=8, subsample=0.8, subsample_freq=1, n_jobs=1)


def train(kind: str, checkpoint: FileCheckpointer) -> Model:
    X, y, names = elec2.classification(400)
    return fit_model(estimator(kind), X, y, feature_names=names, seed=5, checkpoint=checkpoint)


if __name__ == "__main__":
    train(sys.argv[1], Slow(sys.argv[2]))
