"""Column profiles: mergeable sketches of a table, computed once per dataset version.

A numeric column keeps a histogram on fixed edges (inner quantiles of the reference), null count, count,
mean, the sum of squared deviations (``m2``), min and max, and, for integer columns whose values span fewer
than :data:`MAX_DISCRETE_RANGE` integers, the exact count of every value. A categorical column (strings,
booleans, dictionaries) keeps the count of every category and its null count.

Profiles of batches that share edges merge into the profile of their union: counts add, moments combine
with Chan's parallel formula, so a window's profile can be built from the profiles of its parts.

>>> import pyarrow as pa
>>> table = pa.table({"x": [0.5, 1.5, 2.5, None], "c": ["a", "b", "a", "a"]})
>>> p = profile(table, bins=2)
>>> p.rows, p["x"].nulls, p["x"].edges.tolist(), p["x"].counts.tolist()
(4, 1, [1.5], [1, 2])
>>> p["c"].categories
{'a': 3, 'b': 1}
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ctml.drift._columns import column_kind, numeric_values
from ctml.errors import ConfigError

__all__ = [
    "MAX_DISCRETE_RANGE",
    "CategoricalProfile",
    "ColumnProfile",
    "DatasetProfile",
    "NumericProfile",
    "profile",
]

#: Integer columns whose values span fewer integers than this also keep exact value counts.
MAX_DISCRETE_RANGE = 32
FORMAT = "ctml.drift.profile/1"

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Sketch of a numeric column; ``counts[i]`` counts bin i of ``(-inf, e0), [e0, e1), ..., [e_last, inf)``."""

    edges: Floats
    counts: Ints
    nulls: int
    mean: float
    m2: float
    min: float
    max: float
    values: dict[int, int] | None = None
    kind: Literal["numeric"] = field(default="numeric", init=False)

    @property
    def count(self) -> int:
        """Non-null values."""
        return int(self.counts.sum())

    @property
    def std(self) -> float:
        """Population standard deviation (ddof=0)."""
        n = self.count
        return math.sqrt(self.m2 / n) if n else math.nan

    def merge(self, other: NumericProfile) -> NumericProfile:
        if self.edges.shape != other.edges.shape or not np.array_equal(self.edges, other.edges):
            raise ConfigError(
                "Cannot merge numeric profiles with different histogram edges. Profile every batch against the "
                "same reference: profile(batch, reference=reference_profile)."
            )
        na, nb = self.count, other.count
        n = na + nb
        if na == 0 or nb == 0:
            mean, m2 = (other.mean, other.m2) if na == 0 else (self.mean, self.m2)
        else:
            delta = other.mean - self.mean
            mean = self.mean + delta * nb / n
            m2 = self.m2 + other.m2 + delta * delta * na * nb / n
        values: dict[int, int] | None = None
        if self.values is not None and other.values is not None:
            values = dict(self.values)
            for key, count in other.values.items():
                values[key] = values.get(key, 0) + count
            if values and max(values) - min(values) >= MAX_DISCRETE_RANGE:
                values = None
        return NumericProfile(
            edges=self.edges,
            counts=self.counts + other.counts,
            nulls=self.nulls + other.nulls,
            mean=mean,
            m2=m2,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            values=values,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "nulls": self.nulls,
            "mean": _finite(self.mean),
            "m2": _finite(self.m2),
            "min": _finite(self.min),
            "max": _finite(self.max),
            "values": None if self.values is None else {str(k): v for k, v in sorted(self.values.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NumericProfile:
        values = data.get("values")
        return cls(
            edges=np.asarray(data["edges"], dtype=np.float64),
            counts=np.asarray(data["counts"], dtype=np.int64),
            nulls=int(data["nulls"]),
            mean=_number(data["mean"], math.nan),
            m2=_number(data["m2"], math.nan),
            min=_number(data["min"], math.inf),
            max=_number(data["max"], -math.inf),
            values=None if values is None else {int(k): int(v) for k, v in values.items()},
        )


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """Sketch of a categorical column: the count of every category (as text) and the null count."""

    categories: dict[str, int]
    nulls: int
    kind: Literal["categorical"] = field(default="categorical", init=False)

    @property
    def count(self) -> int:
        return sum(self.categories.values())

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        merged = dict(self.categories)
        for key, count in other.categories.items():
            merged[key] = merged.get(key, 0) + count
        return CategoricalProfile(categories=dict(sorted(merged.items())), nulls=self.nulls + other.nulls)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "categorical", "categories": dict(sorted(self.categories.items())), "nulls": self.nulls}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CategoricalProfile:
        return cls(categories={str(k): int(v) for k, v in data["categories"].items()}, nulls=int(data["nulls"]))


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True, eq=False)
class DatasetProfile(Mapping[str, ColumnProfile]):
    """The profiles of a table's columns, by name; a mapping, JSON-serialisable and mergeable."""

    rows: int
    columns: dict[str, ColumnProfile]

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"No column {name!r} in the profile; it has: {', '.join(self.columns)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """The profile of both batches together; both must have the same columns, kinds and edges."""
        if list(self.columns) != list(other.columns):
            raise ConfigError(
                f"Cannot merge profiles of different columns: {list(self.columns)} and {list(other.columns)}. "
                "Profile batches of the same schema."
            )
        merged: dict[str, ColumnProfile] = {}
        for name, mine in self.columns.items():
            theirs = other.columns[name]
            if isinstance(mine, NumericProfile) and isinstance(theirs, NumericProfile):
                merged[name] = mine.merge(theirs)
                continue
            if isinstance(mine, CategoricalProfile) and isinstance(theirs, CategoricalProfile):
                merged[name] = mine.merge(theirs)
            else:
                raise ConfigError(
                    f"Column {name!r} is {mine.kind} in one profile and {theirs.kind} in the other. "
                    "Cast it to one type before profiling."
                )
        return DatasetProfile(rows=self.rows + other.rows, columns=merged)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (no NaN: missing moments are null)."""
        return {
            "format": FORMAT,
            "rows": self.rows,
            "columns": {name: column.to_json() for name, column in self.columns.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DatasetProfile:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise ConfigError(
                f"Not a ctml drift profile: expected format {FORMAT!r}, found {found!r}. "
                "Write one with DatasetProfile.to_json() or `ctml drift --save-profile`."
            )
        columns: dict[str, ColumnProfile] = {}
        for name, column in data["columns"].items():
            if column.get("kind") == "numeric":
                columns[name] = NumericProfile.from_json(column)
            elif column.get("kind") == "categorical":
                columns[name] = CategoricalProfile.from_json(column)
            else:
                raise ConfigError(f"Column {name!r} of the profile has unknown kind {column.get('kind')!r}.")
        return cls(rows=int(data["rows"]), columns=columns)


def profile(
    table: pa.Table,
    reference: DatasetProfile | None = None,
    *,
    bins: int = 100,
    sample: int = 100_000,
    seed: int = 0,
) -> DatasetProfile:
    """Profile every column of ``table``.

    Numeric columns present in ``reference`` reuse its edges, so the result compares (and merges) with it
    bin for bin; other numeric columns get ``bins - 1`` inner edges at the quantiles of a seeded sample of
    at most ``sample`` values (the counts are always exact over every row).
    """
    if not isinstance(bins, int) or bins < 2:
        raise ConfigError(f"The 'bins' parameter of profile must be an int >= 2. Got {bins!r} instead.")
    columns: dict[str, ColumnProfile] = {}
    for name in table.column_names:
        column = table.column(name)
        prior = None if reference is None else reference.columns.get(name)
        if column_kind(column.type) == "numeric":
            edges = prior.edges if isinstance(prior, NumericProfile) else None
            columns[name] = numeric_profile(
                numeric_values(column),
                edges,
                bins=bins,
                sample=sample,
                seed=seed,
                integer=pa.types.is_integer(column.type),
            )
        else:
            columns[name] = categorical_profile(column)
    return DatasetProfile(rows=table.num_rows, columns=columns)


def sorted_values(values: Floats, *, owned: bool = False) -> tuple[Floats, int]:
    """The values sorted, without NaN (nulls), and how many NaN there were.

    With ``owned=True`` the caller hands over ``values`` (a writable copy) and it is sorted in place.
    """
    ordered = values if owned and values.flags.writeable else np.array(values, dtype=np.float64)
    ordered.sort()
    valid = int(np.searchsorted(ordered, np.inf, side="right"))
    return ordered[:valid], ordered.size - valid


def numeric_profile(
    values: Floats,
    edges: Floats | None = None,
    *,
    bins: int = 100,
    sample: int = 100_000,
    seed: int = 0,
    integer: bool = False,
    presorted: tuple[Floats, int] | None = None,
) -> NumericProfile:
    """Profile of one float column (NaN counts as null). Sorting once gives counts, min and max exactly."""
    ordered, nulls = presorted if presorted is not None else sorted_values(values)
    if edges is None:
        edges = quantile_edges(ordered, bins=bins, sample=sample, seed=seed)
    cuts = np.searchsorted(ordered, edges, side="left")
    counts = np.diff(np.concatenate(([0], cuts, [ordered.size]))).astype(np.int64)
    n = ordered.size
    if n:
        mean = float(ordered.sum() / n)
        m2 = _sum_of_squares(ordered, mean)
        low, high = float(ordered[0]), float(ordered[-1])
    else:
        mean, m2, low, high = math.nan, math.nan, math.inf, -math.inf
    values_count: dict[int, int] | None = None
    if integer and (n == 0 or high - low < MAX_DISCRETE_RANGE):
        values_count = {}
        if n:
            distinct, tally = np.unique(ordered, return_counts=True)
            values_count = {int(v): int(c) for v, c in zip(distinct, tally, strict=True)}
    return NumericProfile(
        edges=edges, counts=counts, nulls=nulls, mean=mean, m2=m2, min=low, max=high, values=values_count
    )


def _sum_of_squares(values: Floats, mean: float, block: int = 1 << 16) -> float:
    """Sum of squared deviations, in blocks that stay in cache (one big temporary costs more than the math)."""
    scratch = np.empty(min(block, values.size))
    total = 0.0
    for start in range(0, values.size, block):
        part = values[start : start + block]
        gap = np.subtract(part, mean, out=scratch[: part.size])
        # Not np.dot: BLAS would start its thread pool for a job this small.
        total += float(np.square(gap, out=gap).sum())
    return total


def quantile_edges(ordered: Floats, *, bins: int = 100, sample: int = 100_000, seed: int = 0) -> Floats:
    """``bins - 1`` inner edges at the quantiles of (a seeded sample of) sorted values, duplicates removed."""
    if ordered.size == 0:
        return np.zeros(0, dtype=np.float64)
    if ordered.size > sample:
        picks = np.sort(np.random.default_rng(seed).choice(ordered.size, size=sample, replace=False))
        ordered = ordered[picks]
    levels = np.arange(1, bins, dtype=np.float64) / bins
    return np.unique(np.quantile(ordered, levels))


def categorical_profile(column: pa.ChunkedArray | pa.Array) -> CategoricalProfile:
    nulls = column.null_count
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    counted = pc.value_counts(column)
    categories: dict[str, int] = {}
    for value, count in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True):
        if value is not None:
            categories[_category(value)] = int(count)
    return CategoricalProfile(categories=dict(sorted(categories.items())), nulls=nulls)


def _category(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _number(value: float | None, missing: float) -> float:
    return missing if value is None else float(value)
