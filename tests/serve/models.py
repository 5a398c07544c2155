"""Two small elec2 classifiers registered as versions 1 and 2 of the model ``elec``; v1 is the champion."""

from __future__ import annotations

import socket
from functools import cache
from pathlib import Path

import numpy as np

from _elec2 import ELEC2_10K
from ctml.flavors import fit_model
from ctml.meta import open_meta
from ctml.registry import ModelRegistry
from ctml.store import open_store

PATH = ELEC2_10K
FEATURES = ("date", "day", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer")


@cache
def elec2(rows: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.csv

    table = pyarrow.csv.read_csv(PATH).slice(0, rows)
    X = np.column_stack([table.column(n).to_numpy().astype(np.float64) for n in FEATURES])
    return X, table.column("class").to_numpy().astype(str)


@cache
def model_bytes() -> tuple[bytes, bytes]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    X, y = elec2()
    one = fit_model(LogisticRegression(max_iter=500), X, y, feature_names=FEATURES, seed=0)
    two = fit_model(DecisionTreeClassifier(max_depth=4), X, y, feature_names=FEATURES, seed=0)
    return one.to_bytes(), two.to_bytes()


def make_registry(folder: Path) -> tuple[str, str]:
    """A metadata store and artifact folder under ``folder`` holding ``elec`` v1 (champion) and v2."""
    meta_url, artifacts = f"sqlite:///{folder / 'meta.db'}", str(folder / "artifacts")
    meta = open_meta(meta_url)
    registry = ModelRegistry(meta, open_store(artifacts), actor="test")
    one, two = model_bytes()
    registry.register("elec", one, flavor="sklearn")
    registry.register("elec", two, flavor="sklearn")
    registry.promote("elec", 1)
    meta.close()
    return meta_url, artifacts


def row(i: int = 0) -> dict[str, float]:
    X, _ = elec2()
    return dict(zip(FEATURES, X[i].tolist(), strict=True))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
