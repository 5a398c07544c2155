"""Reading windows of the prediction log: one route's (and version's) predictions, their inputs as an Arrow
table, their predictions as a column, and the realized metric on the labelled ones.

The log stores requests as the server sent them (``ctml.meta.predictions``); the readers here only see the
unfolded :class:`~ctml.meta.LabeledPrediction` records, so they are independent of that storage format.

>>> from datetime import UTC, datetime
>>> from ctml.meta import LabeledPrediction, PredictionRecord
>>> t = datetime(2026, 3, 1, tzinfo=UTC)
>>> def rec(i, x, predicted, label):
...     p = PredictionRecord(f"01J-{i}", "elec", "m", 1, "champion", {"x": x}, {"prediction": predicted}, 2.0, t)
...     return LabeledPrediction(p, label, None if label is None else t)
>>> rows = [rec(0, 0.5, "UP", "UP"), rec(1, 0.7, "UP", "DOWN"), rec(2, 0.1, "DOWN", None)]
>>> inputs_table(rows).to_pydict()
{'x': [0.5, 0.7, 0.1]}
>>> task_of(rows), realized(rows, "classification")
('classification', (0.5, 2))
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from ctml.errors import ConfigError
from ctml.evaluate import accuracy, mae
from ctml.meta import LabeledPrediction, MetaStore, PredictionRecord
from ctml.types import JSON

__all__ = [
    "Task",
    "column_of",
    "errors_of",
    "inputs_table",
    "predicted",
    "predictions_table",
    "read",
    "realized",
    "task_of",
]

Task = Literal["classification", "regression"]
METRIC_OF: dict[str, tuple[str, bool]] = {"classification": ("accuracy", True), "regression": ("mae", False)}
"""The realized metric of each task and whether higher is better."""


def read(
    meta: MetaStore,
    app: str,
    start: datetime | None,
    end: datetime | None,
    *,
    version: int | None = None,
    route: str | None = None,
    max_rows: int = 100_000,
    with_labels: bool = True,
    decoded: MutableMapping[str, list[PredictionRecord]] | None = None,
) -> list[LabeledPrediction]:
    """Predictions of ``app`` made in ``[start, end)`` on ``route`` by ``version`` (None: any), oldest first.

    At most about ``max_rows`` predictions of the whole app are read (the oldest of the window first).
    ``decoded``: the caller's memo of decoded requests (``PredictionRepo.labeled``), so windows that overlap
    decode only their new requests.
    """
    if start is not None and end is not None and end <= start:
        return []
    found = meta.predictions.labeled(
        app, start=start, end=end, limit=max_rows, with_labels=with_labels, route=route, decoded=decoded
    )
    return [
        r
        for r in found
        if (version is None or r.prediction.version == version) and (route is None or r.prediction.route == route)
    ]


def inputs_table(records: Sequence[LabeledPrediction]) -> pa.Table:
    """The input rows as an Arrow table, one column per feature seen (a missing value is a null)."""
    names: dict[str, None] = {}
    rows: list[dict[str, JSON]] = []
    for r in records:
        row = r.prediction.inputs
        if isinstance(row, dict):
            rows.append(row)
            names.update(dict.fromkeys(row))
    columns = {name: column_of([row.get(name) for row in rows]) for name in names}
    return pa.table(columns) if columns else pa.table({})


def predicted(records: Sequence[LabeledPrediction]) -> list[JSON]:
    """The prediction of each record that has one (errors have none)."""
    out: list[JSON] = []
    for r in records:
        output = r.prediction.output
        if isinstance(output, dict) and "error" not in output and output.get("prediction") is not None:
            out.append(output["prediction"])
    return out


def predictions_table(records: Sequence[LabeledPrediction], column: str = "prediction") -> pa.Table:
    """The predictions as a one-column table, for :func:`ctml.drift.prediction_drift`."""
    return pa.table({column: column_of(predicted(records))})


def task_of(records: Sequence[LabeledPrediction], hint: JSON = None) -> Task:
    """``classification`` when ``hint`` says so, when the model answered probabilities, or when its predictions
    are not numbers; otherwise ``regression``."""
    if hint in ("classification", "regression"):
        return "classification" if hint == "classification" else "regression"
    for r in records:
        output = r.prediction.output
        if not isinstance(output, dict) or "error" in output:
            continue
        value = output.get("prediction")
        if "probabilities" in output or isinstance(value, str | bool):
            return "classification"
        if value is not None:
            return "regression"
    return "classification"


def errors_of(records: Sequence[LabeledPrediction], task: Task) -> list[float]:
    """Per labelled record: 0/1 misclassification, or the absolute error of a regression."""
    out: list[float] = []
    for r in records:
        pred = _prediction(r)
        if r.label is None or pred is None:
            continue
        if task == "classification":
            out.append(0.0 if _class(r.label) == _class(pred) else 1.0)
        else:
            out.append(abs(_number(pred) - _number(r.label)))
    return out


def realized(records: Sequence[LabeledPrediction], task: Task) -> tuple[float | None, int]:
    """The realized metric (accuracy or MAE, from :mod:`ctml.evaluate`) on the labelled records, and their count."""
    pairs = [(r.label, p) for r in records if r.label is not None and (p := _prediction(r)) is not None]
    if not pairs:
        return None, 0
    if task == "classification":
        truth = np.array([_class(t) for t, _ in pairs], dtype=object)
        guess = np.array([_class(p) for _, p in pairs], dtype=object)
        return accuracy(truth, guess), len(pairs)
    return mae([_number(t) for t, _ in pairs], [_number(p) for _, p in pairs]), len(pairs)


def realized_se(records: Sequence[LabeledPrediction], task: Task) -> float | None:
    """The standard error of :func:`realized`'s value (binomial for accuracy; of the mean absolute error),
    None with fewer than two labelled records."""
    pairs = [(r.label, p) for r in records if r.label is not None and (p := _prediction(r)) is not None]
    if len(pairs) < 2:
        return None
    if task == "classification":
        hits = np.array([_class(t) == _class(p) for t, p in pairs], dtype=np.float64)
    else:
        hits = np.abs(np.array([_number(t) for t, _ in pairs]) - np.array([_number(p) for _, p in pairs]))
    return float(hits.std(ddof=1) / math.sqrt(len(hits)))


def _prediction(r: LabeledPrediction) -> JSON:
    output = r.prediction.output
    if not isinstance(output, dict) or "error" in output:
        return None
    return output.get("prediction")


def _class(value: JSON) -> Any:
    """A class label compared across JSON types: 1, 1.0 and "1" are one class; "UP" is itself."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return str(value)


def _number(value: JSON) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"A regression label or prediction must be a number. Got {value!r}.")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"A regression label or prediction must be a number. Got {value!r}.") from None


def column_of(values: list[Any]) -> pa.Array:
    """Numbers as float64 (JSON does not keep 1 and 1.0 apart), anything else as text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array(values, type=pa.float64())
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, type=pa.bool_())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())
