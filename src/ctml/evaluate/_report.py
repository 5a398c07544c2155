"""``evaluate``: every metric of a task, overall and per slice, with undefined ones skipped and explained.

A slice is one distinct value of a slice column (``{"period": night_or_day}``). A metric that is undefined on
a slice (ROC AUC where only one class occurs, MAPE where a target is 0) is left out of that slice's metrics
and its reason is kept in ``skipped``, so one odd slice never crashes an evaluation.

>>> rng = np.random.default_rng(1)
>>> y = rng.integers(0, 2, 100); y[90:] = 1
>>> proba = np.clip(0.4 * y + rng.uniform(0, 0.6, 100), 0, 1)
>>> region = np.where(np.arange(100) < 90, "north", "south")
>>> report = evaluate(y, (proba > 0.5).astype(int), proba, task="classification", slices={"region": region})
>>> round(report.overall.metrics["roc_auc"], 4), [(s.value, s.rows) for s in report.slices]
(0.9599, [('north', 90), ('south', 10)])
>>> report.slice("region", "south").skipped["roc_auc"][:61]
'ROC AUC is undefined on rows whose true classes are only [1] '
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ctml.errors import ConfigError
from ctml.evaluate._metrics import METRICS, _plain, resolve_classes
from ctml.types import JSON, JSONObject

__all__ = ["Report", "SliceReport", "Task", "evaluate", "json_value"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class SliceReport:
    """Metrics on one set of rows: all rows (``column`` None) or those where ``column == value``."""

    column: str | None
    value: JSON
    rows: int
    metrics: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)
    """Metric name -> why it is undefined on these rows."""

    @property
    def name(self) -> str:
        return "overall" if self.column is None else f"{self.column}={self.value}"

    def to_json(self) -> JSONObject:
        return {
            "column": self.column,
            "value": self.value,
            "rows": self.rows,
            "metrics": dict(self.metrics),
            "skipped": dict(self.skipped),
        }


@dataclass(frozen=True)
class Report:
    """The result of :func:`evaluate`."""

    task: Task
    classes: list[JSON] | None
    overall: SliceReport
    slices: tuple[SliceReport, ...]

    def slice(self, column: str, value: Any) -> SliceReport:
        """The slice where ``column == value``."""
        for part in self.slices:
            if part.column == column and part.value == json_value(value):
                return part
        raise KeyError(f"No slice {column}={value!r} in this report.")

    def to_json(self) -> JSONObject:
        return {
            "task": self.task,
            "classes": None if self.classes is None else list(self.classes),
            "overall": self.overall.to_json(),
            "slices": [s.to_json() for s in self.slices],
        }


def evaluate(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    proba: npt.ArrayLike | None = None,
    *,
    task: Task,
    classes: npt.ArrayLike | None = None,
    slices: Mapping[str, npt.ArrayLike] | None = None,
) -> Report:
    """Every metric of ``task`` on all rows and on each slice.

    Classification reports accuracy, balanced accuracy and F1 (binary for the last of two classes, macro
    otherwise), and with ``proba`` also ROC AUC, log loss and ECE. Regression reports MAE, RMSE and MAPE.
    ``classes`` orders the columns of ``proba`` (default: the sorted labels of ``y_true`` and ``y_pred``).
    """
    if task not in ("classification", "regression"):
        raise ConfigError(f"The 'task' parameter of evaluate must be 'classification' or 'regression'. Got {task!r}.")
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or p.shape != t.shape or t.size == 0:
        raise ConfigError(
            f"evaluate needs y_true and y_pred as 1-D arrays of one non-empty length. Got {t.shape} and {p.shape}."
        )
    probabilities: npt.NDArray[np.float64] | None = None
    labels: npt.NDArray[Any] | None = None
    if task == "classification":
        labels = resolve_classes(t, p) if classes is None else np.asarray(classes)
        if proba is not None:
            probabilities = _checked_proba(proba, len(t), labels)
    elif proba is not None:
        raise ConfigError("evaluate got 'proba' for a regression task; probabilities belong to classification.")
    names = [n for n, s in METRICS.items() if s.regression == (task == "regression")]
    if probabilities is None:
        names = [n for n in names if not METRICS[n].needs_proba]

    def measure(rows: npt.NDArray[np.intp] | None, column: str | None, value: JSON) -> SliceReport:
        ts = t if rows is None else t[rows]
        ps = p if rows is None else p[rows]
        pr = probabilities if rows is None or probabilities is None else probabilities[rows]
        metrics: dict[str, float] = {}
        skipped: dict[str, str] = {}
        for name in names:
            if name == "mape" and np.any(ts.astype(np.float64) == 0):
                skipped[name] = "MAPE is undefined where a target is 0 (it would divide by machine epsilon)."
                continue
            try:
                metrics[name] = _score(name, ts, ps, pr, labels)
            except ConfigError as exc:
                skipped[name] = str(exc)
        return SliceReport(column, value, len(ts), metrics, skipped)

    parts = [
        measure(rows, column, value)
        for column, values in (slices or {}).items()
        for value, rows in _groups(column, values, len(t))
    ]
    return Report(
        task=task,
        classes=None if labels is None else [json_value(c) for c in labels],
        overall=measure(None, None, None),
        slices=tuple(parts),
    )


def _score(
    name: str,
    y_true: npt.NDArray[Any],
    y_pred: npt.NDArray[Any],
    proba: npt.NDArray[np.float64] | None,
    classes: npt.NDArray[Any] | None,
) -> float:
    spec = METRICS[name]
    if spec.needs_proba:
        return spec.compute(y_true, proba, classes=classes)
    if name == "f1" and classes is not None:
        if len(classes) == 2:
            return spec.compute(y_true, y_pred, pos_label=classes[1])
        return spec.compute(y_true, y_pred, classes=classes)
    return spec.compute(y_true, y_pred)


def _checked_proba(proba: npt.ArrayLike, rows: int, labels: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 1 and len(labels) == 2:
        p = np.column_stack((1.0 - p, p))
    if p.ndim != 2 or p.shape != (rows, len(labels)):
        raise ConfigError(
            f"proba must have one row per label and one column per class {[json_value(c) for c in labels]}, "
            f"shape ({rows}, {len(labels)}). Got {np.shape(proba)}. Pass 'classes' in the model's column order."
        )
    return p


def _groups(column: str, values: npt.ArrayLike, rows: int) -> list[tuple[JSON, npt.NDArray[np.intp]]]:
    v = np.asarray(values)
    if v.shape != (rows,):
        raise ConfigError(f"Slice column {column!r} must be a 1-D array of {rows} values. Got shape {v.shape}.")
    try:
        distinct, which = np.unique(v, return_inverse=True)
    except TypeError:
        raise ConfigError(
            f"Slice column {column!r} mixes value types that cannot be sorted; cast it to one type."
        ) from None
    order = np.argsort(which, kind="stable")
    bounds = np.cumsum(np.bincount(which, minlength=len(distinct)))[:-1]
    return [(json_value(d), rows_of) for d, rows_of in zip(distinct, np.split(order, bounds), strict=True)]


def json_value(value: Any) -> JSON:
    """A label or slice value as plain JSON: numpy scalars unwrapped, anything else not JSON as its text."""
    plain = _plain(value)
    if plain is None or isinstance(plain, str | bool | int):
        return plain
    if isinstance(plain, float):
        return plain if np.isfinite(plain) else str(plain)
    return str(plain)
