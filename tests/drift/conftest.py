from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest


@pytest.fixture
def tables() -> tuple[pa.Table, pa.Table]:
    """A reference and a current window: ``shifted`` and ``city`` drift, ``stable`` and ``flag`` do not."""
    rng = np.random.default_rng(41)
    n = 3000
    ref = pa.table(
        {
            "shifted": rng.normal(0.0, 1.0, n),
            "stable": rng.uniform(0.0, 1.0, n),
            "city": rng.choice(["paris", "lyon", "nice", "lille"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "flag": rng.choice([True, False], n),
        }
    )
    cur = pa.table(
        {
            "shifted": rng.normal(0.8, 1.0, n),
            "stable": rng.uniform(0.0, 1.0, n),
            "city": rng.choice(["paris", "lyon", "nice", "lille"], n, p=[0.1, 0.2, 0.3, 0.4]),
            "flag": rng.choice([True, False], n),
        }
    )
    return ref, cur
