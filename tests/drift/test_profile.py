"""Profiles: exact counts, JSON round trips, and merge == profile of the union (property tests)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctml.drift import CategoricalProfile, DatasetProfile, NumericProfile, profile
from ctml.errors import ConfigError

floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.none()
batches = st.lists(floats, min_size=0, max_size=60)
categories = st.lists(st.sampled_from(["a", "b", "c", "dd", None]), min_size=0, max_size=60)
integers = st.lists(st.integers(min_value=-20, max_value=40) | st.none(), min_size=0, max_size=60)


def _table(xs: list[float | None], cs: list[str | None], ks: list[int | None]) -> pa.Table:
    n = min(len(xs), len(cs), len(ks))
    return pa.table(
        {
            "x": pa.array(xs[:n], pa.float64()),
            "c": pa.array(cs[:n], pa.string()),
            "k": pa.array(ks[:n], pa.int64()),
        }
    )


def _assert_same(a: DatasetProfile, b: DatasetProfile) -> None:
    assert a.rows == b.rows
    assert list(a) == list(b)
    for name in a:
        left, right = a[name], b[name]
        assert type(left) is type(right)
        if isinstance(left, NumericProfile) and isinstance(right, NumericProfile):
            assert np.array_equal(left.edges, right.edges)
            assert left.counts.tolist() == right.counts.tolist()
            assert left.nulls == right.nulls
            assert left.values == right.values
            assert (left.min, left.max) == (right.min, right.max)
            if left.count:
                assert left.mean == pytest.approx(right.mean, rel=1e-9, abs=1e-6)
                assert left.m2 == pytest.approx(right.m2, rel=1e-7, abs=1e-3)
        else:
            assert isinstance(left, CategoricalProfile)
            assert isinstance(right, CategoricalProfile)
            assert left.categories == right.categories
            assert left.nulls == right.nulls


@settings(max_examples=60, deadline=None)
@given(batches, batches, categories, categories, integers, integers, batches)
def test_merge_of_batches_is_profile_of_union(xa, xb, ca, cb, ka, kb, seed_data) -> None:  # type: ignore[no-untyped-def]
    reference = profile(_table(seed_data, ["a"] * len(seed_data), [0] * len(seed_data)), bins=8)
    a, b = _table(xa, ca, ka), _table(xb, cb, kb)
    merged = profile(a, reference=reference).merge(profile(b, reference=reference))
    union = profile(pa.concat_tables([a, b]), reference=reference)
    _assert_same(merged, union)


@settings(max_examples=40, deadline=None)
@given(batches, categories, integers)
def test_json_round_trip(xs, cs, ks) -> None:  # type: ignore[no-untyped-def]
    made = profile(_table(xs, cs, ks), bins=5)
    text = json.dumps(made.to_json(), allow_nan=False)
    _assert_same(DatasetProfile.from_json(json.loads(text)), made)


def test_counts_are_exact_and_edges_are_reference_quantiles() -> None:
    values = np.arange(1000, dtype=np.float64)
    made = profile(pa.table({"x": values}), bins=10)["x"]
    assert isinstance(made, NumericProfile)
    assert made.edges.size == 9
    assert made.counts.sum() == 1000
    assert made.counts.tolist() == [100] * 10
    assert made.mean == pytest.approx(values.mean())
    assert made.std == pytest.approx(values.std())


def test_integer_columns_keep_value_counts_while_the_range_is_small() -> None:
    small = profile(pa.table({"k": pa.array([1, 2, 2, 3, None])}))["k"]
    wide = profile(pa.table({"k": pa.array([0, 100])}))["k"]
    assert isinstance(small, NumericProfile)
    assert isinstance(wide, NumericProfile)
    assert small.values == {1: 1, 2: 2, 3: 1}
    assert small.nulls == 1
    assert wide.values is None


def test_merge_refuses_different_edges() -> None:
    a = profile(pa.table({"x": np.arange(10.0)}), bins=4)
    b = profile(pa.table({"x": np.arange(100.0)}), bins=4)
    with pytest.raises(ConfigError, match="same reference"):
        a.merge(b)


def test_merge_refuses_different_columns() -> None:
    with pytest.raises(ConfigError, match="different columns"):
        profile(pa.table({"x": [1.0]})).merge(profile(pa.table({"y": [1.0]})))


def test_from_json_rejects_other_documents() -> None:
    with pytest.raises(ConfigError, match="Not a ctml drift profile"):
        DatasetProfile.from_json({"rows": 3})


def test_profile_is_a_mapping_with_a_helpful_key_error() -> None:
    made = profile(pa.table({"x": [1.0], "c": ["a"]}))
    assert len(made) == 2
    assert set(made) == {"x", "c"}
    with pytest.raises(KeyError, match="it has: x, c"):
        made["nope"]


def test_bins_must_be_valid() -> None:
    with pytest.raises(ConfigError, match="'bins' parameter"):
        profile(pa.table({"x": [1.0]}), bins=1)
