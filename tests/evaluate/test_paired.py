"""McNemar, the paired bootstrap and DeLong against references: scipy, a textbook example, a slow DeLong."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import roc_auc_score

from ctml.errors import ConfigError
from ctml.evaluate import accuracy, delong, f1, mae, mcnemar, paired_bootstrap, rmse


def discordant(wins: int, losses: int, ties_right: int = 0, ties_wrong: int = 0) -> tuple[np.ndarray, ...]:
    """Labels and two models' predictions with exactly these counts of each (challenger, champion) outcome."""
    n = wins + losses + ties_right + ties_wrong
    truth = np.zeros(n, dtype=int)
    a = np.zeros(n, dtype=int)
    b = np.zeros(n, dtype=int)
    a[wins : wins + losses] = 1  # challenger wrong where the champion wins
    b[:wins] = 1  # champion wrong where the challenger wins
    a[n - ties_wrong :] = 1
    b[n - ties_wrong :] = 1
    return truth, a, b


# -- McNemar ---------------------------------------------------------------------------------------------------


def test_mcnemar_textbook_example_with_continuity_correction() -> None:
    # The paired table of Wikipedia's McNemar article: a=101, b=121, c=59, d=33.
    truth, a, b = discordant(121, 59, 101, 33)
    result = mcnemar(truth, a, b, exact_max=0)
    assert result.statistic == pytest.approx(61**2 / 180)  # (|121 - 59| - 1)^2 / (121 + 59) = 20.672
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(result.statistic / 2)), rel=1e-12)
    assert result.details["exact"] is False
    assert result.effect == pytest.approx((121 - 59) / 314)


@settings(max_examples=40, deadline=None)
@given(wins=st.integers(0, 40), losses=st.integers(0, 40), ties=st.integers(0, 20))
def test_mcnemar_exact_is_the_binomial_test_of_the_discordant_rows(wins: int, losses: int, ties: int) -> None:
    truth, a, b = discordant(wins, losses, ties, 1)
    two, one = mcnemar(truth, a, b), mcnemar(truth, a, b, alternative="greater")
    if wins + losses == 0:
        assert two.p_value == one.p_value == 1.0
        return
    assert two.p_value == pytest.approx(stats.binomtest(wins, wins + losses).pvalue, rel=1e-12)
    assert one.p_value == pytest.approx(stats.binom.sf(wins - 1, wins + losses, 0.5), rel=1e-9)
    assert two.ci[0] <= two.effect <= two.ci[1]


def test_mcnemar_switches_to_chi_square_above_the_threshold() -> None:
    truth, a, b = discordant(700, 600, 50)
    assert mcnemar(truth, a, b).details["exact"] is False
    exact = mcnemar(truth, a, b, exact_max=10_000)
    assert exact.details["exact"] is True
    assert mcnemar(truth, a, b).p_value == pytest.approx(exact.p_value, rel=0.02)
    one = mcnemar(truth, a, b, alternative="greater")
    assert one.statistic == pytest.approx(99 / math.sqrt(1300))
    assert one.p_value == pytest.approx(stats.norm.sf(99 / math.sqrt(1300)))


# -- paired bootstrap --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [mae, rmse])
def test_bootstrap_interval_equals_scipy_percentile_bootstrap(metric: object) -> None:
    rng = np.random.default_rng(11)
    y = rng.normal(size=250)
    a, b = y + rng.normal(0, 0.5, 250), y + rng.normal(0, 0.6, 250)
    ours = paired_bootstrap(metric, y, a, b, higher_is_better=False, n_resamples=999, confidence=0.9, seed=5)  # type: ignore[arg-type]
    theirs = stats.bootstrap(
        (y, a, b),
        lambda yy, aa, bb: metric(yy, bb) - metric(yy, aa),  # type: ignore[operator]
        paired=True,
        vectorized=False,
        n_resamples=999,
        confidence_level=0.9,
        method="percentile",
        rng=np.random.default_rng(5),
    )
    assert ours.ci[0] == pytest.approx(theirs.confidence_interval.low, abs=1e-12)
    assert ours.ci[1] == pytest.approx(theirs.confidence_interval.high, abs=1e-12)


def test_bootstrap_of_any_metric_loops_and_agrees_with_its_fast_path() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    a = np.where(rng.uniform(size=200) < 0.85, y, 1 - y)
    b = np.where(rng.uniform(size=200) < 0.75, y, 1 - y)
    fast = paired_bootstrap(accuracy, y, a, b, n_resamples=300, seed=1)

    def plain_accuracy(t: np.ndarray, p: np.ndarray) -> float:  # not the function itself: no fast path
        return accuracy(t, p)

    slow = paired_bootstrap(plain_accuracy, y, a, b, n_resamples=300, seed=1)
    assert fast.ci == pytest.approx(slow.ci, abs=1e-12)
    assert fast.p_value == slow.p_value
    assert paired_bootstrap(lambda t, p: f1(t, p, pos_label=1), y, a, b, n_resamples=300).effect > 0


def test_bootstrap_known_answers() -> None:
    y = np.arange(100.0)
    same = paired_bootstrap(mae, y, y + 1, y + 1, higher_is_better=False, n_resamples=200)
    assert (same.effect, same.ci, same.p_value) == (0.0, (0.0, 0.0), 1.0)
    better = paired_bootstrap(mae, y, y + 1, y + 2, higher_is_better=False, n_resamples=200)
    assert better.effect == 1.0
    assert better.p_value == pytest.approx(1 / 201)
    worse = paired_bootstrap(mae, y, y + 2, y + 1, higher_is_better=False, n_resamples=200, alternative="two-sided")
    assert worse.effect == -1.0
    assert worse.p_value == pytest.approx(2 / 201)


# -- DeLong ------------------------------------------------------------------------------------------------------


def slow_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) by the pairwise kernel: difference of AUCs and its variance, O(m n)."""
    pos, neg = y == 1, y == 0
    m, n = pos.sum(), neg.sum()
    v10, v01 = [], []
    for s in (a, b):
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    cov = s10 / m + s01 / n
    return float(v10[0].mean() - v10[1].mean()), float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(6, 80))
def test_delong_fast_equals_slow_textbook_delong(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:4] = [0, 1, 0, 1]
    a = np.round(y + rng.normal(0, 1, n), 1)  # rounded: many ties
    b = np.round(y + rng.normal(0, 1.5, n), 1)
    diff, variance = slow_delong(y, a, b)
    result = delong(y, a, b)
    assert result.effect == pytest.approx(diff, abs=1e-12)
    assert result.details["variance"] == pytest.approx(variance, abs=1e-12)
    assert result.details["challenger_auc"] == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    if variance > 0:
        assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(diff) / math.sqrt(variance)), rel=1e-9)


def test_delong_obvious_cases() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    scores = y + rng.normal(0, 1, 300)
    same = delong(y, scores, scores)
    assert (same.effect, same.statistic, same.p_value) == (0.0, 0.0, 1.0)
    noisy = scores + rng.normal(0, 2, 300)
    forward, backward = delong(y, scores, noisy), delong(y, noisy, scores)
    assert forward.statistic == pytest.approx(-backward.statistic)
    assert forward.p_value == pytest.approx(backward.p_value)
    # A perfect ranking against a constant one: both AUCs are exact (1 and 1/2), no variance, certain.
    perfect = delong(y, y.astype(float), np.zeros(300), alternative="greater")
    assert (perfect.effect, perfect.statistic, perfect.p_value) == (0.5, math.inf, 0.0)
    assert perfect.to_json()["statistic"] == "inf"
    # A strictly increasing transform changes no rank, so nothing at all.
    assert delong(y, scores, np.exp(scores)).p_value == 1.0


def test_delong_takes_two_probability_columns_and_string_labels() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes", "no"])
    p = np.array([0.2, 0.7, 0.6, 0.4, 0.3, 0.1])
    both = np.column_stack((1 - p, p))
    assert delong(y, both, both).details["challenger_auc"] == pytest.approx(roc_auc_score(y == "yes", p))
    with pytest.raises(ConfigError, match="exactly two classes"):
        delong(np.array([0, 1, 2]), np.zeros(3), np.zeros(3))
