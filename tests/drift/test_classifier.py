"""Domain classifier: AUC near 0.5 without drift, above its bound with drift, and the right top feature."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ctml.drift import domain_classifier


def _tables(shift: float) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(5)
    n = 1500

    def side(delta: float) -> pa.Table:
        return pa.table(
            {
                "a": rng.normal(0, 1, n),
                "b": rng.normal(delta, 1, n),
                "c": rng.choice(["x", "y", "z"], n),
            }
        )

    return side(0.0), side(shift)


def test_no_drift_stays_below_the_bound() -> None:
    found = domain_classifier(*_tables(0.0), max_rows=1500)
    assert not found.drifted
    assert 0.4 < found.auc < found.auc_bound + 0.05


def test_drift_is_found_with_the_separating_feature_first() -> None:
    found = domain_classifier(*_tables(1.0), max_rows=1500)
    assert found.drifted
    assert found.auc > found.auc_bound
    assert found.p_value < 1e-6
    assert found.top_features[0][0] == "b"
