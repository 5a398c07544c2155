"""compare(): the test chosen per column, overrides, thresholds, and drift from stored profiles alone."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from ctml.drift import DatasetProfile, compare, label_drift, prediction_drift, profile
from ctml.errors import ConfigError


def test_large_reference_uses_jensen_shannon_and_finds_the_drifted_columns(tables) -> None:  # type: ignore[no-untyped-def]
    ref, cur = tables
    report = compare(ref, cur)
    assert {c.column: c.test for c in report.columns} == dict.fromkeys(ref.column_names, "jensenshannon")
    assert sorted(report.drifted_columns) == ["city", "shifted"]
    assert report.drifted_share == 0.5
    assert report.drifted
    json.dumps(report.to_json(), allow_nan=False)


def test_small_reference_uses_tests_with_p_values(tables) -> None:  # type: ignore[no-untyped-def]
    ref, cur = (t.slice(0, 500) for t in tables)
    report = compare(ref, cur)
    assert {c.column: c.test for c in report.columns} == {
        "shifted": "ks",
        "stable": "ks",
        "city": "chisquare",
        "flag": "z",
    }
    ks = report["shifted"]
    expected = stats.ks_2samp(ref.column("shifted").to_numpy(), cur.column("shifted").to_numpy())
    assert ks.method == "exact"
    assert ks.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert ks.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert ks.drifted
    assert not report["stable"].drifted


def test_forced_test_applies_where_it_fits_and_per_column_choice_wins(tables) -> None:  # type: ignore[no-untyped-def]
    ref, cur = tables
    report = compare(ref, cur, test="wasserstein", tests={"stable": "psi"})
    assert report["shifted"].test == "wasserstein"
    assert report["stable"].test == "psi"
    assert report["city"].test == "jensenshannon"  # wasserstein does not fit text
    w = report["shifted"]
    a, b = ref.column("shifted").to_numpy(), cur.column("shifted").to_numpy()
    assert w.statistic == pytest.approx(stats.wasserstein_distance(a, b) / a.std(), rel=1e-9)


def test_thresholds_by_column_then_by_test(tables) -> None:  # type: ignore[no-untyped-def]
    ref, cur = tables
    report = compare(ref, cur, thresholds={"shifted": 0.99, "jensenshannon": 0.0})
    assert report["shifted"].threshold == 0.99
    assert not report["shifted"].drifted
    assert report["stable"].threshold == 0.0
    assert report["stable"].drifted


def test_stored_profile_gives_the_same_verdicts_without_raw_reference(tables) -> None:  # type: ignore[no-untyped-def]
    ref, cur = tables
    stored = DatasetProfile.from_json(json.loads(json.dumps(profile(ref).to_json())))
    from_raw = compare(ref, cur)
    from_profile = compare(stored, cur)
    assert [(c.column, c.test) for c in from_profile.columns] == [(c.column, c.test) for c in from_raw.columns]
    for a, b in zip(from_raw.columns, from_profile.columns, strict=True):
        assert a.statistic == pytest.approx(b.statistic, rel=1e-12)
        assert a.drifted == b.drifted


def test_ks_from_a_stored_profile_is_a_sketch_within_its_bound(tables) -> None:  # type: ignore[no-untyped-def]
    ref, cur = tables
    report = compare(profile(ref), cur, test="ks")
    result = report["shifted"]
    assert result.method == "sketch"
    assert result.bound is not None
    exact = stats.ks_2samp(ref.column("shifted").to_numpy(), cur.column("shifted").to_numpy()).statistic
    assert abs(result.statistic - exact) <= result.bound + 1e-12


def test_windows_merge_before_comparison(tables) -> None:  # type: ignore[no-untyped-def]
    ref, cur = tables
    reference = profile(ref)
    halves = [profile(cur.slice(0, 1000), reference=reference), profile(cur.slice(1000), reference=reference)]
    merged = compare(reference, halves[0].merge(halves[1]))
    whole = compare(reference, cur)
    assert [c.statistic for c in merged.columns] == pytest.approx([c.statistic for c in whole.columns], rel=1e-12)


def test_prediction_and_label_drift_use_the_same_machinery() -> None:
    rng = np.random.default_rng(0)
    ref = pa.table({"prediction": rng.random(2000), "label": rng.integers(0, 2, 2000)})
    cur = pa.table({"prediction": rng.random(2000) ** 2, "label": rng.integers(0, 2, 2000)})
    assert prediction_drift(ref, cur).drifted
    label = label_drift(ref, cur)
    assert label.kind == "categorical"  # 0/1 integers are tested like categories
    assert not label.drifted
    assert label_drift(ref, cur, test="psi", threshold=0.5).test == "psi"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test": "nope"}, "Unknown drift test 'nope'"),
        ({"tests": {"city": "ks"}}, "does not fit column 'city'"),
        ({"columns": ["missing"]}, "not in both"),
        ({"share_threshold": 0.0}, "share_threshold"),
    ],
)
def test_bad_arguments_say_what_to_do(tables, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    ref, cur = tables
    with pytest.raises(ConfigError, match=message):
        compare(ref, cur, **kwargs)


def test_kind_mismatch_is_reported() -> None:
    with pytest.raises(ConfigError, match="numeric in the reference and categorical"):
        compare(pa.table({"x": [1.0, 2.0]}), pa.table({"x": ["a", "b"]}))


def test_empty_and_all_null_columns_do_not_drift() -> None:
    ref = pa.table({"x": pa.array([None, None], pa.float64())})
    cur = pa.table({"x": pa.array([1.0, 2.0])})
    result = compare(ref, cur)["x"]
    assert result.method == "empty"
    assert not result.drifted
