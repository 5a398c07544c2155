"""Statistics on binned counts, vectorised across columns.

Every function takes two count matrices of the same shape, one row per column and one entry per bin
(columns with fewer bins are padded with zeros, which change nothing), and returns one value per row.

>>> ref = np.array([[50.0, 30.0, 20.0], [10.0, 10.0, 0.0]])
>>> cur = np.array([[40.0, 30.0, 30.0], [12.0, 8.0, 0.0]])
>>> np.round(psi(ref, cur), 6).tolist()
[0.062861, 0.040547]
>>> np.round(jensen_shannon(ref, cur), 6).tolist()
[0.106199, 0.085435]
>>> np.round(hellinger(ref, cur), 6).tolist()
[0.088529, 0.071161]
>>> statistic, p_value, dof = chi_square(ref, cur)
>>> np.round(statistic, 6).tolist(), np.round(p_value, 6).tolist(), dof.tolist()
([3.111111, 0.10101], [0.211072, 0.750621], [2, 1])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special, stats

__all__ = [
    "PSI_FLOOR",
    "chi_square",
    "hellinger",
    "jensen_shannon",
    "ks_bounds",
    "proportions_z",
    "psi",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: Bin shares are floored at this value in PSI so an empty bin gives a large, finite term (Evidently's choice).
PSI_FLOOR = 1e-4


def _shares(counts: Floats) -> Floats:
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 0.0)


def psi(reference: Floats, current: Floats) -> Floats:
    """Population stability index: sum of (q - p) ln(q / p), shares floored at :data:`PSI_FLOOR`."""
    p = np.clip(_shares(reference), PSI_FLOOR, None)
    q = np.clip(_shares(current), PSI_FLOOR, None)
    padded = (reference == 0) & (current == 0)
    terms = np.where(padded, 0.0, (q - p) * np.log(q / p))
    return terms.sum(axis=1)  # type: ignore[no-any-return]


def jensen_shannon(reference: Floats, current: Floats) -> Floats:
    """Jensen-Shannon distance, base 2 (in [0, 1]); equals ``scipy.spatial.distance.jensenshannon(p, q, 2)``."""
    p, q = _shares(reference), _shares(current)
    m = (p + q) / 2.0
    divergence = (special.rel_entr(p, m).sum(axis=1) + special.rel_entr(q, m).sum(axis=1)) / 2.0
    return np.sqrt(np.clip(divergence / np.log(2.0), 0.0, None))  # type: ignore[no-any-return]


def hellinger(reference: Floats, current: Floats) -> Floats:
    """Hellinger distance in [0, 1]: sqrt(sum((sqrt p - sqrt q)^2) / 2)."""
    p, q = _shares(reference), _shares(current)
    return np.sqrt(((np.sqrt(p) - np.sqrt(q)) ** 2).sum(axis=1) / 2.0)  # type: ignore[no-any-return]


def chi_square(reference: Floats, current: Floats) -> tuple[Floats, Floats, Ints]:
    """Chi-square test of homogeneity on each 2 x K table, as ``scipy.stats.chi2_contingency`` computes it.

    Bins empty on both sides are dropped; with one degree of freedom Yates' correction is applied, as
    scipy does by default. Returns (statistic, p-value, degrees of freedom).
    """
    observed = np.stack((reference, current), axis=1)  # columns x 2 x bins
    used = (reference + current) > 0
    dof = (used.sum(axis=1) - 1).astype(np.int64)
    row = observed.sum(axis=2, keepdims=True)
    col = observed.sum(axis=1, keepdims=True)
    total = row.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = row * col / total
        yates = (dof == 1)[:, None, None]
        diff = expected - observed
        corrected = np.where(yates, observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff), observed)
        terms = np.where(used[:, None, :], (corrected - expected) ** 2 / expected, 0.0)
    statistic = terms.sum(axis=(1, 2))
    safe_dof = np.maximum(dof, 1)
    p_value = np.where(dof > 0, stats.chi2.sf(statistic, safe_dof), 1.0)
    statistic = np.where(dof > 0, statistic, 0.0)
    return statistic, p_value, dof


def proportions_z(reference: Floats, current: Floats) -> tuple[Floats, Floats]:
    """Two-proportion z-test (pooled) on the share of the first bin. Returns (z, two-sided p-value)."""
    n1, n2 = reference.sum(axis=1), current.sum(axis=1)
    x1, x2 = reference[:, 0], current[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
        scale = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
        z = np.where(scale > 0, (x1 / n1 - x2 / n2) / np.where(scale > 0, scale, 1.0), 0.0)
    return z, 2.0 * stats.norm.sf(np.abs(z))


def ks_bounds(reference: Floats, current: Floats) -> tuple[Floats, Floats]:
    """Lower and upper bounds on the exact KS statistic, from counts on the same ordered bins.

    With ``F(e-)`` the share of values below edge ``e``, the exact statistic ``D`` satisfies
    ``max_e |Fr(e-) - Fc(e-)| <= D <= max_bins max(Fr(b-) - Fc(a-), Fc(b-) - Fr(a-))`` for each bin
    ``[a, b)``, because both ECDFs rise monotonically inside a bin. Without ties on the edges the gap is at
    most the larger share of one bin on either side.
    """
    p, q = _shares(reference), _shares(current)
    zero = np.zeros((p.shape[0], 1))
    fr = np.concatenate((zero, np.cumsum(p, axis=1)), axis=1)
    fc = np.concatenate((zero, np.cumsum(q, axis=1)), axis=1)
    lower = np.abs(fr - fc).max(axis=1)
    upper = np.maximum(fr[:, 1:] - fc[:, :-1], fc[:, 1:] - fr[:, :-1]).max(axis=1)
    return lower, np.clip(np.maximum(upper, lower), 0.0, 1.0)
