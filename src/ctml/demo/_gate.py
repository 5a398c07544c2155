"""The demo's gate: challenger vs champion on the same held-out rows, McNemar's exact test plus a minimum effect.

Only the rows where the two models disagree carry evidence. Under "equally accurate", each such row is a fair
coin between "challenger right" and "champion right", so the exact test is a two-sided binomial test on them.
A challenger is promoted only when it is significantly different *and* better by at least ``min_effect``
accuracy: significance alone would promote a negligible gain measured on many rows.

>>> import numpy as np
>>> truth = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 1] * 30)
>>> champion = truth.copy(); champion[:60] = 1 - champion[:60]
>>> challenger = truth.copy(); challenger[:10] = 1 - challenger[:10]
>>> result = compare(challenger, champion, truth, alpha=0.05, min_effect=0.01)
>>> result.challenger_only, result.champion_only, f"{result.p_value:.1e}", result.outcome
(50, 0, '1.8e-15', 'promote')
>>> compare(champion, champion, truth, alpha=0.05, min_effect=0.01).outcome
'reject'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ctml.errors import ConfigError

__all__ = ["GateResult", "compare", "mcnemar_exact"]


@dataclass(frozen=True)
class GateResult:
    """The measured evidence of one comparison and what it means for promotion."""

    rows: int
    challenger_accuracy: float
    champion_accuracy: float
    challenger_only: int
    """Rows the challenger got right and the champion got wrong."""
    champion_only: int
    """Rows the champion got right and the challenger got wrong."""
    p_value: float
    alpha: float
    min_effect: float

    @property
    def effect(self) -> float:
        return self.challenger_accuracy - self.champion_accuracy

    @property
    def outcome(self) -> str:
        wins = self.p_value < self.alpha and self.effect >= self.min_effect
        return "promote" if wins else "reject"

    @property
    def why(self) -> str:
        if self.outcome == "promote":
            return (
                f"better by {self.effect * 100:+.1f} pp (>= {self.min_effect * 100:.1f} pp), "
                f"p={self.p_value:.2g} < {self.alpha}"
            )
        if self.effect < self.min_effect:
            return f"effect {self.effect * 100:+.1f} pp below the minimum {self.min_effect * 100:+.1f} pp"
        return f"p={self.p_value:.2g} not below {self.alpha}"


def mcnemar_exact(challenger_only: int, champion_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when the models never disagree)."""
    from scipy.stats import binomtest

    discordant = challenger_only + champion_only
    if discordant == 0:
        return 1.0
    return float(binomtest(challenger_only, discordant, 0.5, alternative="two-sided").pvalue)


def compare(
    challenger: NDArray[Any],
    champion: NDArray[Any],
    truth: NDArray[Any],
    *,
    alpha: float,
    min_effect: float,
) -> GateResult:
    """Compare two models' predictions on the same rows against the labels."""
    if not (len(challenger) == len(champion) == len(truth)) or len(truth) == 0:
        raise ConfigError(
            "The gate needs the same non-empty rows for both models. "
            f"Got {len(challenger)} challenger, {len(champion)} champion and {len(truth)} label rows."
        )
    if not 0 < alpha < 1:
        raise ConfigError(f"The 'alpha' parameter of the gate must be a float in (0, 1). Got {alpha} instead.")
    right_challenger = challenger == truth
    right_champion = champion == truth
    challenger_only = int(np.sum(right_challenger & ~right_champion))
    champion_only = int(np.sum(right_champion & ~right_challenger))
    return GateResult(
        rows=len(truth),
        challenger_accuracy=float(right_challenger.mean()),
        champion_accuracy=float(right_champion.mean()),
        challenger_only=challenger_only,
        champion_only=champion_only,
        p_value=mcnemar_exact(challenger_only, champion_only),
        alpha=alpha,
        min_effect=min_effect,
    )
