"""Exact statistics equal scipy's to 1e-9 relative; sketch values stay within their stated bounds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from ctml.drift import NumericProfile, profile
from ctml.drift._binned import chi_square, hellinger, jensen_shannon, ks_bounds, proportions_z, psi
from ctml.drift._exact import EcdfGaps, ks_test
from ctml.drift._sketch import wasserstein_bounds

REL = 1e-9


def _samples(seed: int, n1: int, n2: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.0, 1.0, n1), rng.normal(0.3, 1.2, n2)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    return np.sort(a), np.sort(b)


@pytest.mark.parametrize(
    ("n1", "n2", "ties"),
    [
        (20, 20, False),
        (50, 80, True),
        (300, 170, False),
        (1000, 1000, True),
        (9000, 12_000, False),
        (20_000, 15_000, True),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_ks_and_wasserstein_equal_scipy(seed: int, n1: int, n2: int, ties: bool) -> None:
    a, b = _samples(seed, n1, n2, ties)
    gaps = EcdfGaps.of(a, b)
    statistic, p_value = ks_test(gaps, n1, n2)
    expected = stats.ks_2samp(a, b)
    assert statistic == pytest.approx(expected.statistic, rel=REL)
    assert p_value == pytest.approx(expected.pvalue, rel=REL, abs=1e-300)
    assert gaps.wasserstein == pytest.approx(stats.wasserstein_distance(a, b), rel=REL)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=80))
def test_identical_samples_have_zero_statistics(values: list[float]) -> None:
    a = np.sort(np.asarray(values))
    gaps = EcdfGaps.of(a, a.copy())
    assert gaps.ks == 0.0
    assert gaps.wasserstein == 0.0
    counts = np.histogram(a, bins=5)[0][None, :].astype(float)
    for distance in (psi, jensen_shannon, hellinger):
        assert distance(counts, counts)[0] == pytest.approx(0.0, abs=1e-12)
    assert chi_square(counts, counts)[0][0] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 50), min_size=2, max_size=8),
    st.lists(st.integers(0, 50), min_size=2, max_size=8),
)
def test_chi_square_equals_scipy(row1: list[int], row2: list[int]) -> None:
    k = min(len(row1), len(row2))
    table = np.array([row1[:k], row2[:k]], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return
    statistic, p_value, dof = chi_square(table[:1], table[1:])
    expected = stats.chi2_contingency(table)
    assert statistic[0] == pytest.approx(expected.statistic, rel=REL, abs=1e-12)
    assert p_value[0] == pytest.approx(expected.pvalue, rel=REL, abs=1e-300)
    assert dof[0] == expected.dof


def test_binned_distances_equal_their_definitions() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.integers(1, 100, (5, 12)).astype(float), rng.integers(1, 100, (5, 12)).astype(float)
    p, q = ref / ref.sum(axis=1, keepdims=True), cur / cur.sum(axis=1, keepdims=True)
    assert jensen_shannon(ref, cur) == pytest.approx(
        [jensenshannon(a, b, base=2) for a, b in zip(p, q, strict=False)], rel=REL
    )
    assert psi(ref, cur) == pytest.approx(((q - p) * np.log(q / p)).sum(axis=1), rel=REL)
    hell = np.sqrt(((np.sqrt(p) - np.sqrt(q)) ** 2).sum(axis=1) / 2)
    assert hellinger(ref, cur) == pytest.approx(hell, rel=REL)


def test_z_test_for_proportions() -> None:
    z, p_value = proportions_z(np.array([[30.0, 70.0]]), np.array([[50.0, 50.0]]))
    pooled = 80 / 200
    expected = (0.3 - 0.5) / np.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert z[0] == pytest.approx(expected, rel=REL)
    assert p_value[0] == pytest.approx(2 * stats.norm.sf(abs(expected)), rel=REL)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(20, 400),
    st.integers(20, 400),
    st.floats(-1.0, 1.0),
    st.booleans(),
    st.sampled_from([4, 10, 50]),
)
def test_sketch_values_stay_within_their_bounds(
    seed: int, n1: int, n2: int, shift: float, ties: bool, bins: int
) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.0, 1.0, n1), rng.normal(shift, 1.0, n2)
    if ties:
        a, b = np.round(a), np.round(b)
    reference = profile(pa.table({"x": a}), bins=bins)
    ref, cur = reference["x"], profile(pa.table({"x": b}), reference=reference)["x"]
    assert isinstance(ref, NumericProfile)
    assert isinstance(cur, NumericProfile)
    exact = EcdfGaps.of(np.sort(a), np.sort(b))
    lower, upper = ks_bounds(ref.counts[None, :].astype(float), cur.counts[None, :].astype(float))
    assert lower[0] - 1e-12 <= exact.ks <= upper[0] + 1e-12
    low, high = min(a.min(), b.min()), max(a.max(), b.max())
    _, w_lower, w_upper = wasserstein_bounds(ref.edges, ref.counts, cur.counts, low, high)
    assert w_lower - 1e-9 <= exact.wasserstein <= w_upper + 1e-9


def test_ks_sketch_bound_shrinks_with_more_bins() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20_000), rng.normal(0.1, size=20_000)
    widths = []
    for bins in (10, 100, 1000):
        reference = profile(pa.table({"x": a}), bins=bins)
        ref, cur = reference["x"], profile(pa.table({"x": b}), reference=reference)["x"]
        assert isinstance(ref, NumericProfile)
        assert isinstance(cur, NumericProfile)
        lower, upper = ks_bounds(ref.counts[None, :].astype(float), cur.counts[None, :].astype(float))
        widths.append(upper[0] - lower[0])
    assert widths[0] > widths[1] > widths[2]
    assert widths[1] <= 2.5 / 100
