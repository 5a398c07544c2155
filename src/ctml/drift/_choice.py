"""The drift tests by name, and the rule that picks one per column.

The rule follows Evidently's (documented in docs/drift.md beside it) with one change for large references:

========================  ===============================  =========================================
column                    reference has <= 1000 values     reference has > 1000 values
========================  ===============================  =========================================
numeric (> 5 values)      ``ks`` (p < 0.05)                ``jensenshannon`` on reference deciles (>= 0.1)
binary (<= 2 categories)  ``z`` (p < 0.05)                 ``jensenshannon`` (>= 0.1)
categorical, or numeric   ``chisquare`` (p < 0.05)         ``jensenshannon`` (>= 0.1)
with <= 5 distinct values
========================  ===============================  =========================================

Evidently uses the normed Wasserstein distance for large numeric columns; ctml uses Jensen-Shannon on the
stored reference deciles, so the verdict is the same whether the reference is raw data or a stored profile.

>>> choose_test("numeric", 500, 40).name, choose_test("numeric", 50_000, 40).name
('ks', 'jensenshannon')
>>> choose_test("categorical", 200, 2).name, choose_test("categorical", 200, 7).name
('z', 'chisquare')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ctml.drift._columns import Kind
from ctml.errors import ConfigError

__all__ = ["DISCRETE_MAX_VALUES", "SMALL_REFERENCE", "TESTS", "DriftTest", "choose_test", "get_test"]

#: References with at most this many values get statistical tests; larger ones get distances.
SMALL_REFERENCE = 1000
#: Numeric columns with at most this many distinct reference values are tested like categories.
DISCRETE_MAX_VALUES = 5

Measure = Literal["p_value", "distance"]


@dataclass(frozen=True)
class DriftTest:
    """A named test: which column kinds it fits, what it measures and its default threshold.

    A p-value test flags drift when ``p_value < threshold``; a distance when ``statistic >= threshold``.
    """

    name: str
    kinds: frozenset[Kind]
    measure: Measure
    threshold: float
    title: str
    binary_only: bool = False

    def fits(self, kind: Kind, categories: int) -> bool:
        if kind not in self.kinds:
            return False
        return not self.binary_only or categories <= 2

    def drifted(self, statistic: float, p_value: float | None, threshold: float) -> bool:
        if self.measure == "p_value":
            return p_value is not None and p_value < threshold
        return statistic >= threshold


_BOTH: frozenset[Kind] = frozenset({"numeric", "categorical"})
_NUMERIC: frozenset[Kind] = frozenset({"numeric"})
_CATEGORICAL: frozenset[Kind] = frozenset({"categorical"})

TESTS: dict[str, DriftTest] = {
    test.name: test
    for test in (
        DriftTest("ks", _NUMERIC, "p_value", 0.05, "Kolmogorov-Smirnov"),
        DriftTest("wasserstein", _NUMERIC, "distance", 0.1, "Wasserstein (normed by reference std)"),
        DriftTest("chisquare", _BOTH, "p_value", 0.05, "chi-square"),
        DriftTest("z", _CATEGORICAL, "p_value", 0.05, "z-test for proportions", binary_only=True),
        DriftTest("psi", _BOTH, "distance", 0.1, "population stability index"),
        DriftTest("jensenshannon", _BOTH, "distance", 0.1, "Jensen-Shannon distance"),
        DriftTest("hellinger", _BOTH, "distance", 0.1, "Hellinger distance"),
    )
}


def get_test(name: str) -> DriftTest:
    try:
        return TESTS[name]
    except KeyError:
        raise ConfigError(f"Unknown drift test {name!r}. Expected one of: {', '.join(TESTS)}.") from None


def choose_test(kind: Kind, reference_values: int, categories: int) -> DriftTest:
    """The automatic choice for a column of ``kind`` (numeric columns with few values count as categorical)."""
    if reference_values > SMALL_REFERENCE:
        return TESTS["jensenshannon"]
    if kind == "numeric":
        return TESTS["ks"]
    return TESTS["z"] if categories <= 2 else TESTS["chisquare"]
