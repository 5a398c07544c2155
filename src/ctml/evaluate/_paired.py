"""Paired tests of a challenger against a champion on the same rows: McNemar and the paired bootstrap.

Every test returns a :class:`PairedTest` whose ``effect`` is signed so that positive means the challenger is
better (for an error metric it is champion minus challenger), with a confidence interval and a p-value for
the chosen alternative: ``"greater"`` asks "is the challenger better?", ``"two-sided"`` "are they different?".

McNemar: only the rows where exactly one model is right carry evidence. With ``b`` rows won by the challenger
and ``c`` by the champion, under "equally accurate" each is a fair coin, so the exact test is a binomial test
of ``b`` in ``b + c``. Above ``exact_max`` discordant rows it uses the chi-square approximation with the
continuity correction, ``(|b - c| - 1)^2 / (b + c)`` (its one-sided form is ``z = (b - c - 1) / sqrt(b + c)``).
The interval is the Wald interval of a difference of paired proportions.

>>> truth = np.array([1, 0] * 50)
>>> champion = truth.copy(); champion[:20] = 1 - champion[:20]
>>> challenger = truth.copy(); challenger[:4] = 1 - challenger[:4]
>>> result = mcnemar(truth, challenger, champion, alternative="greater")
>>> result.effect, result.details["challenger_only"], result.details["champion_only"], f"{result.p_value:.3g}"
(0.16, 16, 0, '1.53e-05')

The paired bootstrap resamples row indices (one vectorised draw of a ``(n_resamples, rows)`` index matrix per
chunk) and recomputes the metric for both models on each resample. The interval is the percentile interval of
the resampled effects (scipy's ``bootstrap(..., paired=True, method="percentile")`` with the same generator
draws the same indices) and the one-sided p-value is ``(1 + #{resampled effect <= 0}) / (1 + n_resamples)``.

>>> rng = np.random.default_rng(3)
>>> y = rng.normal(size=300)
>>> better, worse = y + rng.normal(0, 0.5, 300), y + rng.normal(0, 0.6, 300)
>>> boot = paired_bootstrap(mae, y, better, worse, higher_is_better=False, seed=0)
>>> round(boot.effect, 4), [round(x, 4) for x in boot.ci], round(boot.p_value, 4)
(0.0922, [0.0443, 0.145], 0.0005)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from ctml.errors import ConfigError
from ctml.evaluate._metrics import accuracy, mae, rmse
from ctml.types import JSONObject

__all__ = ["MCNEMAR_EXACT_MAX", "Alternative", "PairedTest", "mcnemar", "paired_bootstrap"]

Alternative = Literal["greater", "two-sided"]

#: McNemar is exact (binomial) up to this many discordant rows, and the corrected chi-square above.
MCNEMAR_EXACT_MAX = 1000
#: Index matrices of the bootstrap are drawn in chunks of about this many indices to bound memory.
_CHUNK_INDICES = 4_000_000


@dataclass(frozen=True)
class PairedTest:
    """What a paired test measured: effect (positive = challenger better), its interval, statistic, p-value."""

    test: str
    effect: float
    ci: tuple[float, float]
    confidence: float
    statistic: float
    p_value: float
    alternative: Alternative
    details: JSONObject = field(default_factory=dict)

    def to_json(self) -> JSONObject:
        return {
            "test": self.test,
            "effect": self.effect,
            "ci": [self.ci[0], self.ci[1]],
            "confidence": self.confidence,
            # DeLong's z is infinite when neither AUC varies; JSON has no infinity, so it is kept as text.
            "statistic": self.statistic if math.isfinite(self.statistic) else str(self.statistic),
            "p_value": self.p_value,
            "alternative": self.alternative,
            "details": dict(self.details),
        }


def mcnemar(
    y_true: npt.ArrayLike,
    challenger: npt.ArrayLike,
    champion: npt.ArrayLike,
    *,
    alternative: Alternative = "two-sided",
    confidence: float = 0.95,
    exact_max: int = MCNEMAR_EXACT_MAX,
) -> PairedTest:
    """McNemar's test on predicted labels; the effect is the accuracy difference."""
    t, a, b = _rows(y_true, challenger, champion)
    _check(alternative, confidence)
    right_a, right_b = a == t, b == t
    wins = int(np.sum(right_a & ~right_b))
    losses = int(np.sum(right_b & ~right_a))
    n, discordant = len(t), wins + losses
    exact = discordant <= exact_max
    if discordant == 0:
        statistic, p_value = 0.0, 1.0
    elif exact:
        statistic = float(wins)
        side = "greater" if alternative == "greater" else "two-sided"
        p_value = float(stats.binomtest(wins, discordant, 0.5, alternative=side).pvalue)
    elif alternative == "greater":
        statistic = (wins - losses - 1) / math.sqrt(discordant)
        p_value = float(stats.norm.sf(statistic))
    else:
        statistic = (abs(wins - losses) - 1) ** 2 / discordant
        p_value = float(stats.chi2.sf(statistic, 1))
    effect = (wins - losses) / n
    se = math.sqrt(max(discordant - (wins - losses) ** 2 / n, 0.0)) / n
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * se
    return PairedTest(
        test="mcnemar",
        effect=effect,
        ci=(effect - half, effect + half),
        confidence=confidence,
        statistic=float(statistic),
        p_value=min(p_value, 1.0),
        alternative=alternative,
        details={
            "rows": n,
            "challenger_only": wins,
            "champion_only": losses,
            "exact": exact,
            "challenger_accuracy": float(np.mean(right_a)),
            "champion_accuracy": float(np.mean(right_b)),
        },
    )


def paired_bootstrap(
    metric: Callable[[Any, Any], float],
    y_true: npt.ArrayLike,
    challenger: npt.ArrayLike,
    champion: npt.ArrayLike,
    *,
    higher_is_better: bool = True,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    alternative: Alternative = "greater",
    seed: int = 0,
) -> PairedTest:
    """Bootstrap the difference of ``metric(y_true, predictions)`` between the two models on resampled rows.

    ``challenger`` and ``champion`` are whatever ``metric`` reads (labels, values, or probability rows).
    Accuracy, MAE and RMSE are resampled as means of per-row scores without a Python loop; any other
    metric is called once per resample and model.
    """
    t = np.asarray(y_true)
    a, b = np.asarray(challenger), np.asarray(champion)
    if t.ndim != 1 or t.size == 0 or len(a) != len(t) or len(b) != len(t):
        raise ConfigError(
            f"paired_bootstrap needs the same non-empty rows for y_true and both models. "
            f"Got {len(t)}, {len(a)} and {len(b)} rows."
        )
    _check(alternative, confidence)
    if n_resamples < 1:
        raise ConfigError(f"The 'n_resamples' parameter of paired_bootstrap must be an int >= 1. Got {n_resamples!r}.")
    sign = 1.0 if higher_is_better else -1.0
    effect = sign * (metric(t, a) - metric(t, b))
    rng = np.random.default_rng(seed)
    n = len(t)
    per_row = _row_scores(metric, t, a, b)
    chunk = max(1, _CHUNK_INDICES // n)
    resampled = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        idx = rng.integers(0, n, (stop - start, n))
        if per_row is not None:
            score_a, score_b, finish = per_row
            resampled[start:stop] = finish(score_a[idx].mean(axis=1)) - finish(score_b[idx].mean(axis=1))
        else:
            resampled[start:stop] = [metric(t[i], a[i]) - metric(t[i], b[i]) for i in idx]
    resampled *= sign
    tail = (1.0 - confidence) / 2
    low, high = np.percentile(resampled, [100 * tail, 100 * (1 - tail)])
    at_most = (1 + np.sum(resampled <= 0)) / (1 + n_resamples)
    if alternative == "greater":
        p_value = float(at_most)
    else:
        at_least = (1 + np.sum(resampled >= 0)) / (1 + n_resamples)
        p_value = float(min(1.0, 2 * min(at_most, at_least)))
    return PairedTest(
        test="bootstrap",
        effect=float(effect),
        ci=(float(low), float(high)),
        confidence=confidence,
        statistic=float(effect),
        p_value=p_value,
        alternative=alternative,
        details={"rows": n, "n_resamples": n_resamples, "seed": seed, "metric": getattr(metric, "__name__", "metric")},
    )


RowScores = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], Callable[[Any], Any]]


def _row_scores(metric: Callable[[Any, Any], float], t: Any, a: Any, b: Any) -> RowScores | None:
    """Per-row scores whose (transformed) mean is the metric, for the metrics that are means."""
    if metric is accuracy:
        return (a == t).astype(np.float64), (b == t).astype(np.float64), _same
    if metric is mae:
        t64 = t.astype(np.float64)
        return np.abs(a - t64), np.abs(b - t64), _same
    if metric is rmse:
        t64 = t.astype(np.float64)
        return (a - t64) ** 2, (b - t64) ** 2, np.sqrt
    return None


def _same(x: Any) -> Any:
    return x


def _rows(*arrays: npt.ArrayLike) -> list[npt.NDArray[Any]]:
    out = [np.asarray(x) for x in arrays]
    if out[0].ndim != 1 or out[0].size == 0 or any(x.shape != out[0].shape for x in out):
        raise ConfigError(
            f"A paired test needs y_true and both models' predictions as 1-D arrays of one non-empty length. "
            f"Got shapes {[x.shape for x in out]}."
        )
    return out


def _check(alternative: str, confidence: float) -> None:
    if alternative not in ("greater", "two-sided"):
        raise ConfigError(f"The 'alternative' of a paired test must be 'greater' or 'two-sided'. Got {alternative!r}.")
    if not 0 < confidence < 1:
        raise ConfigError(f"The 'confidence' of a paired test must be a float in (0, 1). Got {confidence!r}.")
