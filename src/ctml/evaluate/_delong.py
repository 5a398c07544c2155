"""DeLong's test for two correlated ROC AUCs, with the O(n log n) algorithm of Sun & Xu (2014).

DeLong, DeLong & Clarke-Pearson (1988) estimate the covariance of two AUCs measured on the same rows from
"structural components": for each positive, the share of negatives it outranks (V10), and for each negative,
the share of positives that outrank it (V01), ties counting one half. Computed pairwise that is O(m n).
Sun & Xu (IEEE Signal Processing Letters 21(11), 2014) get every component from three mid-rankings: of all
scores, of the positives alone and of the negatives alone:

    V10_i = (Tz_i - Tx_i) / n        V01_j = 1 - (Tz_j - Ty_j) / m

with m positives and n negatives. Then ``S = cov(V10) / m + cov(V01) / n`` is the covariance matrix of the two
AUCs, ``var(diff) = S00 + S11 - 2 S01`` and ``z = diff / sqrt(var(diff))``.

>>> rng = np.random.default_rng(7)
>>> y = rng.integers(0, 2, 400)
>>> strong, weak = y + rng.normal(0, 0.8, 400), y + rng.normal(0, 1.6, 400)
>>> result = delong(y, strong, weak, alternative="greater")
>>> round(result.details["challenger_auc"], 4), round(result.details["champion_auc"], 4)
(0.8286, 0.6711)
>>> round(result.effect, 4), round(result.statistic, 3), f"{result.p_value:.2e}"
(0.1576, 4.574, '2.40e-06')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.stats import rankdata

from ctml.errors import ConfigError
from ctml.evaluate._paired import Alternative, PairedTest, _check

__all__ = ["delong", "delong_components"]


def delong(
    y_true: npt.ArrayLike,
    challenger: npt.ArrayLike,
    champion: npt.ArrayLike,
    *,
    pos_label: Any = None,
    alternative: Alternative = "two-sided",
    confidence: float = 0.95,
) -> PairedTest:
    """Compare the ROC AUCs of two scorings of the same rows; the effect is challenger AUC minus champion AUC.

    Scores are 1-D (higher means more likely positive) or two-column probabilities (the second column is used).
    ``pos_label`` defaults to the larger of the two labels.
    """
    t = np.asarray(y_true)
    scores = np.vstack([_positive_column(challenger, len(t)), _positive_column(champion, len(t))])
    labels = np.unique(t)
    if t.ndim != 1 or len(labels) != 2:
        raise ConfigError(
            f"DeLong's test compares binary ROC AUCs and needs y_true with exactly two classes. "
            f"Got {len(labels)} distinct label(s)."
        )
    _check(alternative, confidence)
    positive = t == (labels[1] if pos_label is None else pos_label)
    if not positive.any():
        raise ConfigError(f"pos_label {pos_label!r} does not occur in y_true; pass one of {labels.tolist()}.")
    aucs, cov = delong_components(positive, scores)
    diff = float(aucs[0] - aucs[1])
    variance = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    sd = math.sqrt(max(variance, 0.0))
    # A zero variance means no sampling noise at all (identical scorings, or both constant per class).
    z = diff / sd if sd > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    p_value = float(stats.norm.sf(z)) if alternative == "greater" else float(2 * stats.norm.sf(abs(z)))
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * sd
    return PairedTest(
        test="delong",
        effect=diff,
        ci=(diff - half, diff + half),
        confidence=confidence,
        statistic=z,
        p_value=min(p_value, 1.0),
        alternative=alternative,
        details={
            "rows": len(t),
            "positives": int(positive.sum()),
            "challenger_auc": float(aucs[0]),
            "champion_auc": float(aucs[1]),
            "variance": variance,
        },
    )


def delong_components(
    positive: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """AUC of each row of ``scores`` (k, n) and their DeLong covariance matrix (k, k), by Sun & Xu's ranks."""
    x, y = scores[:, positive], scores[:, ~positive]
    m, n = x.shape[1], y.shape[1]
    if m == 0 or n == 0:
        raise ConfigError("DeLong's test needs at least one positive and one negative row.")
    tz = rankdata(np.hstack((x, y)), axis=1)
    tx = rankdata(x, axis=1)
    ty = rankdata(y, axis=1)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    aucs = v10.mean(axis=1)
    # np.cov of a single row is 0-d; atleast_2d keeps one shape for one or many scorings.
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(scores), len(scores)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(scores), len(scores)))
    return aucs, s10 / m + s01 / n


def _positive_column(scores: npt.ArrayLike, rows: int) -> npt.NDArray[np.float64]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    if s.shape != (rows,):
        raise ConfigError(
            f"DeLong's test needs one score per row, 1-D or as two probability columns. "
            f"Got shape {np.shape(scores)} for {rows} rows."
        )
    return s
