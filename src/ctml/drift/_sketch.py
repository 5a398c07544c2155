"""What a numeric profile's histogram can say on its own: coarse bins and a bounded Wasserstein distance.

Distances over bins (PSI, Jensen-Shannon, Hellinger, chi-square) use about ten groups of the profile's fine
bins, each holding about a tenth of the reference (its deciles): with a hundred bins a small current window
would leave most bins nearly empty and inflate every distance.

>>> coarse_groups(np.array([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 100]), groups=2).tolist()
[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
>>> edges, low, high = np.array([1.0, 2.0]), 0.0, 3.0
>>> estimate, lower, upper = wasserstein_bounds(edges, np.array([10, 10, 10]), np.array([0, 10, 20]), low, high)
>>> round(estimate, 6), round(lower, 6), round(upper, 6)
(0.666667, 0.0, 1.666667)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["COARSE_GROUPS", "coarse_groups", "regroup", "wasserstein_bounds"]

COARSE_GROUPS = 10

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def coarse_groups(reference_counts: Ints, groups: int = COARSE_GROUPS) -> Ints:
    """The group of each fine bin: bins are cut where the reference's cumulative share crosses k / groups."""
    total = reference_counts.sum()
    if total == 0:
        return np.zeros(reference_counts.size, dtype=np.int64)
    before = np.concatenate(([0], np.cumsum(reference_counts)[:-1])) / total
    middle = before + reference_counts / total / 2.0
    groups_of: Ints = np.minimum((middle * groups).astype(np.int64), groups - 1)
    return groups_of


def regroup(counts: Ints, group: Ints) -> Floats:
    """Counts summed per group, empty groups dropped by the caller if wanted."""
    summed: Floats = np.bincount(group, weights=counts, minlength=int(group.max(initial=0)) + 1).astype(np.float64)
    return summed


def wasserstein_bounds(
    edges: Floats, reference: Ints, current: Ints, low: float, high: float
) -> tuple[float, float, float]:
    """Estimate, lower and upper bound of the Wasserstein-1 distance from two histograms on the same edges.

    ``low`` and ``high`` are the smallest and largest value of both samples, closing the outer bins. Inside a
    bin both CDFs rise monotonically between their values at the bin's ends, which bounds the gap; the
    estimate takes both CDFs as linear inside each bin.
    """
    nr, nc = reference.sum(), current.sum()
    if nr == 0 or nc == 0:
        return float("nan"), float("nan"), float("nan")
    points = np.concatenate(([low], np.clip(edges, low, high), [high]))
    width = np.diff(points)
    fr = np.concatenate(([0.0], np.cumsum(reference) / nr))
    fc = np.concatenate(([0.0], np.cumsum(current) / nc))
    ga, gb = (fr - fc)[:-1], (fr - fc)[1:]
    same_sign = ga * gb >= 0
    size = np.abs(ga) + np.abs(gb)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.where(size > 0, (ga * ga + gb * gb) / (2.0 * np.where(size > 0, size, 1.0)), 0.0)
    estimate = float(np.sum(width * np.where(same_sign, size / 2.0, crossing)))
    apart = np.maximum(fc[:-1] - fr[1:], fr[:-1] - fc[1:])
    lower = float(np.sum(width * np.clip(apart, 0.0, None)))
    upper = float(np.sum(width * np.maximum(fr[1:] - fc[:-1], fc[1:] - fr[:-1]).clip(0.0, None)))
    return estimate, lower, upper
