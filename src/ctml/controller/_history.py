"""The app's labelled history as the controller trains on it: ingested dataset versions, in time order.

Training and the gate must see the same rows on a retry, so a job names the dataset versions it drew from
and :func:`load_history` rebuilds exactly those rows. The newest ``holdout`` share is held out: the gate
judges the challenger and the champion on the same held-out rows. The holdout is the newest ``app.holdout``
share of the rows the training strategy would use (a sliding window's), so it stays close to the present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ctml.app import App
from ctml.data import Datasets
from ctml.errors import ConfigError
from ctml.meta import DatasetVersion
from ctml.train import TrainingData

__all__ = ["History", "load_history", "source_versions"]


@dataclass(frozen=True)
class History:
    """Rows ``[0, split)`` are the training history, ``[split, rows)`` the holdout."""

    data: TrainingData
    table: pa.Table
    split: int

    @property
    def rows(self) -> int:
        return self.data.rows

    @property
    def train(self) -> TrainingData:
        return self.data.slice(0, self.split)

    @property
    def holdout(self) -> TrainingData:
        return self.data.slice(self.split, self.data.rows)


def source_versions(datasets: Datasets, dataset: str) -> list[DatasetVersion]:
    """The versions ingested from the source (not derived windows), oldest first."""
    found = datasets.versions(dataset, limit=1_000_000)
    return [v for v in reversed(found) if (v.source or {}).get("kind") != "window" and v.rows > 0]


def load_history(datasets: Datasets, app: App, versions: Sequence[DatasetVersion]) -> History:
    """The rows of ``versions`` as a :class:`TrainingData` (sorted by ``app.time`` when set) and the split."""
    if not versions:
        raise ConfigError(f"App {app.name!r} has no ingested data yet: add files matching its source.")
    tables = [datasets.read(v) for v in versions]
    table = pa.concat_tables(tables, promote_options="permissive")
    if app.time is not None:
        if app.time not in table.column_names:
            raise ConfigError(f"The time column {app.time!r} of app {app.name!r} is not in its data.")
        table = table.take(pc.sort_indices(table, sort_keys=[(app.time, "ascending")]))
    if app.target not in table.column_names:
        raise ConfigError(
            f"The target {app.target!r} of app {app.name!r} is not in its data (columns: {table.column_names})."
        )
    features = (
        list(app.features) if app.features else [c for c in table.column_names if c not in (app.target, app.time)]
    )
    columns = []
    for name in features:
        if name not in table.column_names:
            raise ConfigError(f"The feature {name!r} of app {app.name!r} is not in its data.")
        column = table.column(name)
        if not (
            pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_boolean(column.type)
        ):
            raise ConfigError(
                f"The feature {name!r} of app {app.name!r} is {column.type}; the controller trains on numeric "
                "features. Encode it upstream, or leave it out with the app's 'features'."
            )
        columns.append(column.to_numpy(zero_copy_only=False).astype(np.float64))
    X = np.column_stack(columns) if columns else np.zeros((table.num_rows, 0))
    y = table.column(app.target).to_numpy(zero_copy_only=False)
    time = None if app.time is None else table.column(app.time).to_numpy(zero_copy_only=False)
    data = TrainingData(X, y, features, time=time)
    # The holdout is the newest share of the rows the strategy trains on (a sliding window's, not the whole
    # history's): a holdout sized by all history would leave a long stretch of recent rows out of training.
    start = app.training.plan(data, has_champion=False, seen=None).start
    held = max(1, round((data.rows - start) * app.holdout))
    if data.rows - held < 1:
        raise ConfigError(f"App {app.name!r} has {data.rows} rows: too few to train and hold out {app.holdout:.0%}.")
    return History(data, table.select(features), data.rows - held)
