"""Gradient boosting in chunks of rounds, so a long training checkpoints every N rounds and resumes.

Both LightGBM and XGBoost continue training from a saved booster (``init_model`` / ``xgb_model``). The resumed
model equals the uninterrupted one exactly because the uninterrupted run is trained the *same way*: with a
checkpointer, training always goes chunk by chunk, and each chunk starts from the booster *re-read from its
saved bytes*, never from the in-memory object. A killed run therefore replays the very computation the
uninterrupted run made. Without a checkpointer, all rounds are one chunk (the library's own fastest path).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ctml.errors import ConfigError
from ctml.flavors._base import Checkpointer, resume, save_progress
from ctml.flavors._signature import Signature

__all__ = ["fit_in_rounds", "proba_from_raw"]


def fit_in_rounds(
    train: Callable[[int, bytes | None], bytes],
    *,
    total: int,
    every: int,
    start: bytes | None,
    key: bytes,
    checkpoint: Checkpointer | None,
) -> bytes:
    """Train ``total`` rounds, ``every`` at a time, with ``train(rounds, saved_model) -> saved_model``."""
    if checkpoint is None:
        return train(total, start)
    saved = resume(checkpoint, key)
    done, model = (0, start) if saved is None else saved
    while done < total:
        rounds = min(every, total - done)
        model = train(rounds, model)
        done += rounds
        save_progress(checkpoint, key, done, model)
    if model is None:  # total == 0, nothing to continue from
        raise ConfigError("A boosting model needs n_estimators >= 1.")
    return model


def proba_from_raw(raw: np.ndarray, signature: Signature) -> np.ndarray:
    """Class probabilities from a booster's prediction: one column (binary) or one per class."""
    out = np.asarray(raw, dtype=np.float64)
    if out.ndim == 1:
        out = np.column_stack([1.0 - out, out])
    k = len(signature.classes or ())
    if out.shape[1] != k:
        raise ConfigError(
            f"The booster predicts {out.shape[1]} probabilities per row, the signature has {k} classes. "
            "Use a probabilistic objective (binary:logistic, multi:softprob, binary, multiclass)."
        )
    return out
