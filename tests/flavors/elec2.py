"""A small slice of the elec2 stream (NSW electricity prices, in time order) as numpy arrays."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

PATH = Path("/work/shared/datasets/elec2/elec2.csv")
FEATURES = ("date", "day", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer")


@cache
def _table(rows: int) -> dict[str, np.ndarray]:
    import pyarrow.csv

    table = pyarrow.csv.read_csv(PATH).slice(0, rows)
    return {name: table.column(name).to_numpy() for name in table.column_names}


def classification(rows: int = 600) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The 8 features and the UP/DOWN label of the first ``rows`` rows."""
    table = _table(rows)
    X = np.column_stack([table[name].astype(np.float64) for name in FEATURES])
    return X, table["class"].astype(str), FEATURES


def regression(rows: int = 600) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """NSW demand from the other 7 features of the first ``rows`` rows."""
    table = _table(rows)
    names = tuple(n for n in FEATURES if n != "nswdemand")
    X = np.column_stack([table[name].astype(np.float64) for name in names])
    return X, table["nswdemand"].astype(np.float64), names


def available() -> bool:
    return PATH.exists()
