"""Multivariate drift: can a classifier tell reference rows from current rows?

A gradient-boosted classifier is trained on a seeded sample of both (label 0 = reference, 1 = current) and
scored by ROC AUC on held-out rows. With no drift the AUC of any classifier on held-out rows is that of a
Mann-Whitney U statistic between two exchangeable groups: mean 0.5 and variance
``(n0 + n1 + 1) / (12 n0 n1)``. The significance bound is the one-sided ``1 - alpha`` quantile of that
normal approximation; drift is declared when the AUC exceeds it *and* the effect floor ``min_auc``, so huge
samples do not flag harmless differences. The features that separate the two most are ranked by how much
shuffling each one lowers the held-out AUC (permutation importance).

>>> import pyarrow as pa
>>> rng = np.random.default_rng(0)
>>> ref = pa.table({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
>>> cur = pa.table({"a": rng.normal(size=2000), "b": rng.normal(1.0, size=2000)})
>>> result = domain_classifier(ref, cur)
>>> result.drifted, round(result.auc, 3), result.top_features[0][0]
(True, 0.698, 'b')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from ctml.drift._columns import column_kind, numeric_values
from ctml.errors import ConfigError

__all__ = ["DomainClassifierResult", "domain_classifier"]


@dataclass(frozen=True)
class DomainClassifierResult:
    auc: float
    auc_bound: float
    p_value: float
    min_auc: float
    drifted: bool
    top_features: tuple[tuple[str, float], ...]
    reference_rows: int
    current_rows: int


def domain_classifier(
    reference: pa.Table,
    current: pa.Table,
    *,
    columns: list[str] | None = None,
    max_rows: int = 20_000,
    alpha: float = 0.05,
    min_auc: float = 0.55,
    top: int = 5,
    seed: int = 0,
) -> DomainClassifierResult:
    """Train reference-vs-current on at most ``max_rows`` rows of each side; half of them are held out."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"The 'alpha' parameter of domain_classifier must be in (0, 1). Got {alpha!r} instead.")
    names = columns or [c for c in reference.column_names if c in set(current.column_names)]
    if not names:
        raise ConfigError("The reference and current tables share no column to train the domain classifier on.")
    rng = np.random.default_rng(seed)
    ref_rows = _sample(reference.num_rows, max_rows, rng)
    cur_rows = _sample(current.num_rows, max_rows, rng)
    if ref_rows.size < 4 or cur_rows.size < 4:
        raise ConfigError("The domain classifier needs at least 4 rows on each side.")
    features, categorical = _encode(reference.take(ref_rows), current.take(cur_rows), names)
    labels = np.concatenate((np.zeros(ref_rows.size), np.ones(cur_rows.size)))
    order = rng.permutation(labels.size)
    features, labels = features[order], labels[order]
    half = labels.size // 2
    model = HistGradientBoostingClassifier(max_iter=100, categorical_features=categorical or None, random_state=seed)
    held_x, held_y = features[half:], labels[half:]
    # One OpenMP thread: on a busy machine spinning worker threads cost ten times the work itself.
    with threadpool_limits(limits=1):
        model.fit(features[:half], labels[:half])
        auc = float(roc_auc_score(held_y, model.predict_proba(held_x)[:, 1]))
        importance = permutation_importance(
            model, held_x[:5000], held_y[:5000], scoring="roc_auc", n_repeats=3, random_state=seed
        ).importances_mean
    n1 = int(held_y.sum())
    n0 = held_y.size - n1
    sigma = math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
    bound = 0.5 + float(stats.norm.ppf(1.0 - alpha)) * sigma
    p_value = float(stats.norm.sf((auc - 0.5) / sigma))
    ranked = sorted(zip(names, importance.tolist(), strict=True), key=lambda item: -item[1])[:top]
    return DomainClassifierResult(
        auc=auc,
        auc_bound=bound,
        p_value=p_value,
        min_auc=min_auc,
        drifted=auc > bound and auc >= min_auc,
        top_features=tuple((name, float(value)) for name, value in ranked),
        reference_rows=int(ref_rows.size),
        current_rows=int(cur_rows.size),
    )


def _sample(rows: int, limit: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    if rows <= limit:
        return np.arange(rows)
    return np.sort(rng.choice(rows, size=limit, replace=False))


def _encode(ref: pa.Table, cur: pa.Table, names: list[str]) -> tuple[npt.NDArray[np.float64], list[int]]:
    """Numeric columns as floats (NaN kept); categories as shared codes (the classifier's categorical input)."""
    blocks: list[npt.NDArray[np.float64]] = []
    categorical: list[int] = []
    for index, name in enumerate(names):
        both = pa.chunked_array(ref.column(name).chunks + cur.column(name).chunks)
        if column_kind(both.type) == "numeric":
            blocks.append(numeric_values(both))
            continue
        text = pc.cast(both, pa.string()) if not pa.types.is_dictionary(both.type) else both.cast(pa.string())
        encoded = pc.dictionary_encode(text.combine_chunks())
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.float64)
        codes[~np.asarray(encoded.is_valid())] = np.nan
        # The classifier takes at most 255 categories; rarer ones share the last code.
        blocks.append(np.minimum(codes, 254.0))
        categorical.append(index)
    return np.column_stack(blocks), categorical
