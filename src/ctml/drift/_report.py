"""Per-column drift between a reference and a current window, from raw tables or stored profiles.

``compare`` profiles what it is given as a table (the current window against the reference's edges), picks
a test per column (:func:`~ctml.drift.choose_test`, overridable), and runs every binned test once over all
columns at a time. Exact KS and Wasserstein need the raw values of both sides; from a stored profile they
are computed from the histograms with a stated bound.

>>> import pyarrow as pa
>>> rng = np.random.default_rng(0)
>>> ref = pa.table({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], size=500)})
>>> cur = pa.table({"x": rng.normal(0.4, size=400), "c": rng.choice(["a", "b"], size=400, p=[0.5, 0.5])})
>>> report = compare(ref, cur)
>>> [(c.column, c.test, round(c.statistic, 4), c.drifted) for c in report.columns]
[('x', 'ks', 0.177, True), ('c', 'z', -0.0894, False)]
>>> report.drifted_share
0.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ctml.drift import _binned
from ctml.drift._choice import DISCRETE_MAX_VALUES, DriftTest, choose_test, get_test
from ctml.drift._columns import Kind, column_kind, numeric_values
from ctml.drift._exact import EcdfGaps, ks_p_value_asymptotic, ks_test
from ctml.drift._profile import (
    CategoricalProfile,
    ColumnProfile,
    DatasetProfile,
    NumericProfile,
    categorical_profile,
    numeric_profile,
    sorted_values,
)
from ctml.drift._sketch import coarse_groups, regroup, wasserstein_bounds
from ctml.errors import ConfigError

__all__ = ["ColumnDrift", "DriftReport", "compare"]

Floats = npt.NDArray[np.float64]
Method = Literal["exact", "sketch", "binned", "empty"]


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict. ``bound``: for sketch values, ``|exact - statistic| <= bound``."""

    column: str
    kind: Kind
    test: str
    method: Method
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    bound: float | None
    reference_count: int
    current_count: int
    reference_nulls: int
    current_nulls: int

    @property
    def score(self) -> float:
        """What the threshold applies to: the p-value of a test, the statistic of a distance."""
        return self.statistic if self.p_value is None else self.p_value


@dataclass(frozen=True, eq=False)
class DriftReport:
    """Per-column results, the two profiles they came from, and the dataset-level verdict."""

    columns: tuple[ColumnDrift, ...]
    reference: DatasetProfile
    current: DatasetProfile
    share_threshold: float = 0.5

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def drifted_share(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def drifted(self) -> bool:
        """Dataset drift: at least ``share_threshold`` of the columns drifted."""
        return bool(self.columns) and self.drifted_share >= self.share_threshold

    def __getitem__(self, column: str) -> ColumnDrift:
        for result in self.columns:
            if result.column == column:
                return result
        raise KeyError(f"No column {column!r} in the report.")

    def to_json(self) -> dict[str, Any]:
        """Verdicts only (profiles are saved on their own with ``DatasetProfile.to_json``)."""
        return {
            "reference_rows": self.reference.rows,
            "current_rows": self.current.rows,
            "drifted": self.drifted,
            "drifted_share": self.drifted_share,
            "share_threshold": self.share_threshold,
            "drifted_columns": self.drifted_columns,
            "columns": [
                {
                    "column": c.column,
                    "kind": c.kind,
                    "test": c.test,
                    "method": c.method,
                    "statistic": _finite(c.statistic),
                    "p_value": None if c.p_value is None else _finite(c.p_value),
                    "threshold": c.threshold,
                    "drifted": c.drifted,
                    "bound": c.bound,
                    "reference_count": c.reference_count,
                    "current_count": c.current_count,
                    "reference_nulls": c.reference_nulls,
                    "current_nulls": c.current_nulls,
                }
                for c in self.columns
            ],
        }


@dataclass
class _Pending:
    """A column between profiling and testing: bins for a binned test, or a finished exact value."""

    column: str
    kind: Kind
    test: DriftTest
    reference: ColumnProfile
    current: ColumnProfile
    ref_bins: Floats | None = None
    cur_bins: Floats | None = None
    exact: tuple[float, float | None] | None = None


def compare(
    reference: pa.Table | DatasetProfile,
    current: pa.Table | DatasetProfile,
    *,
    test: str | None = None,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    columns: Sequence[str] | None = None,
    share_threshold: float = 0.5,
    bins: int = 100,
    workers: int = 2,
) -> DriftReport:
    """Drift of every shared column of ``current`` against ``reference``.

    ``test`` forces one test on every column it fits (the others keep the automatic choice); ``tests`` picks
    a test per column and wins over ``test``. ``thresholds`` maps a column name or a test name to a
    threshold (column first). ``share_threshold``: the share of drifted columns that makes dataset drift.
    """
    if test is not None:
        get_test(test)
    for name in (tests or {}).values():
        get_test(name)
    if not 0.0 < share_threshold <= 1.0:
        raise ConfigError(f"share_threshold must be in (0, 1]. Got {share_threshold!r} instead.")
    names = _shared_columns(reference, current, columns)

    def one(name: str) -> _Pending:
        return _prepare(name, reference, current, test, (tests or {}).get(name), bins)

    if workers > 1 and len(names) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending = list(pool.map(one, names))
    else:
        pending = [one(name) for name in names]
    results = _finish(pending, thresholds or {})
    ref_profile = reference if isinstance(reference, DatasetProfile) else _profile_of(reference.num_rows, pending, 0)
    cur_profile = current if isinstance(current, DatasetProfile) else _profile_of(current.num_rows, pending, 1)
    return DriftReport(tuple(results), ref_profile, cur_profile, share_threshold)


def _shared_columns(
    reference: pa.Table | DatasetProfile, current: pa.Table | DatasetProfile, columns: Sequence[str] | None
) -> list[str]:
    ref_names = list(reference.columns) if isinstance(reference, DatasetProfile) else reference.column_names
    cur_names = set(current.columns) if isinstance(current, DatasetProfile) else set(current.column_names)
    if columns is not None:
        missing = [c for c in columns if c not in cur_names or c not in ref_names]
        if missing:
            raise ConfigError(
                f"Columns {missing} are not in both the reference and the current data. "
                f"Shared columns: {[c for c in ref_names if c in cur_names]}."
            )
        return list(columns)
    shared = [c for c in ref_names if c in cur_names]
    if not shared:
        raise ConfigError(
            "The reference and the current data share no column. "
            f"Reference: {ref_names[:10]}; current: {sorted(cur_names)[:10]}."
        )
    return shared


def _prepare(
    name: str,
    reference: pa.Table | DatasetProfile,
    current: pa.Table | DatasetProfile,
    forced: str | None,
    chosen: str | None,
    bins: int,
) -> _Pending:
    ref_sorted = cur_sorted = None
    if isinstance(reference, DatasetProfile):
        ref = reference[name]
    else:
        ref, ref_sorted = _column_profile(reference.column(name), None, bins)
    if isinstance(current, DatasetProfile):
        cur = current[name]
    else:
        edges = ref.edges if isinstance(ref, NumericProfile) else None
        cur, cur_sorted = _column_profile(current.column(name), edges, bins)
    if ref.kind != cur.kind:
        raise ConfigError(
            f"Column {name!r} is {ref.kind} in the reference and {cur.kind} in the current data. "
            "Cast it to the same type on both sides."
        )
    if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile) and not np.array_equal(ref.edges, cur.edges):
        raise ConfigError(
            f"Column {name!r}: the current profile's histogram edges differ from the reference's. "
            "Profile the current window against the reference: profile(window, reference=reference_profile)."
        )
    kind, ref_counts, cur_counts = _categories(ref, cur)
    test = _pick(name, kind, ref.count, len(ref_counts), forced, chosen)
    pending = _Pending(name, kind, test, ref, cur)
    if ref.count == 0 or cur.count == 0:
        return pending
    if test.name in ("ks", "wasserstein") and ref_sorted is not None and cur_sorted is not None:
        gaps = EcdfGaps.of(ref_sorted, cur_sorted)
        if test.name == "ks":
            statistic, p_value = ks_test(gaps, ref_sorted.size, cur_sorted.size)
            pending.exact = (statistic, p_value)
        else:
            pending.exact = (gaps.wasserstein / _scale(ref), None)
    elif kind == "categorical":
        pending.ref_bins, pending.cur_bins = ref_counts, cur_counts
    elif isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
        if test.name in ("ks", "wasserstein"):
            pending.ref_bins, pending.cur_bins = ref.counts.astype(np.float64), cur.counts.astype(np.float64)
        else:
            group = coarse_groups(ref.counts)
            pending.ref_bins, pending.cur_bins = regroup(ref.counts, group), regroup(cur.counts, group)
    return pending


def _column_profile(column: pa.ChunkedArray, edges: Floats | None, bins: int) -> tuple[ColumnProfile, Floats | None]:
    if column_kind(column.type) == "categorical":
        return categorical_profile(column), None
    presorted = sorted_values(numeric_values(column, copy=True), owned=True)
    made = numeric_profile(
        presorted[0], edges, bins=bins, integer=pa.types.is_integer(column.type), presorted=presorted
    )
    return made, presorted[0]


def _categories(ref: ColumnProfile, cur: ColumnProfile) -> tuple[Kind, Floats, Floats]:
    """Aligned category counts (most frequent reference category first), for categorical-like columns."""
    if isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
        mine, theirs = ref.categories, cur.categories
    elif (
        isinstance(ref, NumericProfile)
        and isinstance(cur, NumericProfile)
        and ref.values is not None
        and cur.values is not None
        and len(ref.values) <= DISCRETE_MAX_VALUES
    ):
        mine = {str(k): v for k, v in ref.values.items()}
        theirs = {str(k): v for k, v in cur.values.items()}
    else:
        return "numeric", np.zeros(0), np.zeros(0)
    keys = sorted(mine, key=lambda k: (-mine[k], k)) + sorted(k for k in theirs if k not in mine)
    return (
        "categorical",
        np.array([mine.get(k, 0) for k in keys], dtype=np.float64),
        np.array([theirs.get(k, 0) for k in keys], dtype=np.float64),
    )


def _pick(
    name: str, kind: Kind, reference_values: int, categories: int, forced: str | None, chosen: str | None
) -> DriftTest:
    if chosen is not None:
        test = get_test(chosen)
        if not test.fits(kind, categories):
            raise ConfigError(
                f"Test {test.name!r} does not fit column {name!r} ({kind}, {categories or 'many'} values). "
                f"It fits {' and '.join(sorted(test.kinds))} columns"
                f"{' with two categories' if test.binary_only else ''}; "
                "choose another test for this column (tests= in Python, --column-test on the command line)."
            )
        return test
    if forced is not None and get_test(forced).fits(kind, categories):
        return get_test(forced)
    return choose_test(kind, reference_values, categories)


def _scale(ref: ColumnProfile) -> float:
    std = ref.std if isinstance(ref, NumericProfile) else math.nan
    return std if math.isfinite(std) and std > 0 else 1.0


def _finish(pending: list[_Pending], thresholds: Mapping[str, float]) -> list[ColumnDrift]:
    values: dict[str, tuple[Method, float, float | None, float | None]] = {}
    by_test: dict[str, list[_Pending]] = {}
    for item in pending:
        if item.exact is not None:
            values[item.column] = ("exact", item.exact[0], item.exact[1], None)
        elif item.ref_bins is None or item.cur_bins is None:
            values[item.column] = ("empty", math.nan, None, None)
        else:
            by_test.setdefault(item.test.name, []).append(item)
    for name, items in by_test.items():
        values.update(_binned_values(name, items))
    results = []
    for item in pending:
        method, statistic, p_value, bound = values[item.column]
        threshold = float(thresholds.get(item.column, thresholds.get(item.test.name, item.test.threshold)))
        drifted = method != "empty" and item.test.drifted(statistic, p_value, threshold)
        results.append(
            ColumnDrift(
                column=item.column,
                kind=item.kind,
                test=item.test.name,
                method=method,
                statistic=statistic,
                p_value=p_value,
                threshold=threshold,
                drifted=drifted,
                bound=bound,
                reference_count=item.reference.count,
                current_count=item.current.count,
                reference_nulls=item.reference.nulls,
                current_nulls=item.current.nulls,
            )
        )
    return results


def _binned_values(name: str, items: list[_Pending]) -> dict[str, tuple[Method, float, float | None, float | None]]:
    width = max(len(i.ref_bins) for i in items if i.ref_bins is not None)
    ref = np.zeros((len(items), width))
    cur = np.zeros((len(items), width))
    for row, item in enumerate(items):
        assert item.ref_bins is not None
        assert item.cur_bins is not None
        ref[row, : item.ref_bins.size] = item.ref_bins
        cur[row, : item.cur_bins.size] = item.cur_bins
    out: dict[str, tuple[Method, float, float | None, float | None]] = {}
    if name == "ks":
        lower, upper = _binned.ks_bounds(ref, cur)
        # The lower bound is the KS statistic of the binned data: exact when values tie on the edges (few
        # distinct values), never an overstatement of drift; the exact value is at most ``bound`` above it.
        p_values = ks_p_value_asymptotic(lower, ref.sum(axis=1), cur.sum(axis=1))
        for item, lo, hi, p in zip(items, lower, upper, p_values, strict=True):
            out[item.column] = ("sketch", float(lo), float(p), float(hi - lo))
    elif name == "wasserstein":
        for item in items:
            out[item.column] = ("sketch", *_wasserstein_sketch(item))
    elif name in ("chisquare", "z"):
        statistic, p_value = (
            _binned.chi_square(ref, cur)[:2] if name == "chisquare" else _binned.proportions_z(ref, cur)
        )
        for item, s, p in zip(items, statistic, p_value, strict=True):
            out[item.column] = ("binned", float(s), float(p), None)
    else:
        distance = {"psi": _binned.psi, "jensenshannon": _binned.jensen_shannon, "hellinger": _binned.hellinger}[name]
        for item, s in zip(items, distance(ref, cur), strict=True):
            out[item.column] = ("binned", float(s), None, None)
    return out


def _wasserstein_sketch(item: _Pending) -> tuple[float, None, float]:
    ref, cur = item.reference, item.current
    assert isinstance(ref, NumericProfile)
    assert isinstance(cur, NumericProfile)
    low, high = min(ref.min, cur.min), max(ref.max, cur.max)
    estimate, lower, upper = wasserstein_bounds(ref.edges, ref.counts, cur.counts, low, high)
    scale = _scale(ref)
    return estimate / scale, None, max(estimate - lower, upper - estimate) / scale


def _profile_of(rows: int, pending: list[_Pending], side: int) -> DatasetProfile:
    return DatasetProfile(rows=rows, columns={p.column: (p.reference if side == 0 else p.current) for p in pending})


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
