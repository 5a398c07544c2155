"""Prediction drift and label drift: the same tests on the model's output column and on the label column.

>>> import pyarrow as pa
>>> ref = pa.table({"prediction": [0, 1] * 300, "label": [0, 1, 1] * 200})
>>> cur = pa.table({"prediction": [1, 1, 1, 0] * 150, "label": [0, 1, 1] * 200})
>>> prediction_drift(ref, cur).drifted, label_drift(ref, cur).drifted
(True, False)
>>> prediction_drift(ref, cur).test
'z'
"""

from __future__ import annotations

import pyarrow as pa

from ctml.drift._profile import DatasetProfile
from ctml.drift._report import ColumnDrift, compare

__all__ = ["label_drift", "prediction_drift"]


def prediction_drift(
    reference: pa.Table | DatasetProfile,
    current: pa.Table | DatasetProfile,
    column: str = "prediction",
    *,
    test: str | None = None,
    threshold: float | None = None,
) -> ColumnDrift:
    """Drift of the model's predictions (scores or classes) between two windows."""
    return _one(reference, current, column, test, threshold)


def label_drift(
    reference: pa.Table | DatasetProfile,
    current: pa.Table | DatasetProfile,
    column: str = "label",
    *,
    test: str | None = None,
    threshold: float | None = None,
) -> ColumnDrift:
    """Drift of the labels (prior shift) between two windows, once the labels have arrived."""
    return _one(reference, current, column, test, threshold)


def _one(
    reference: pa.Table | DatasetProfile,
    current: pa.Table | DatasetProfile,
    column: str,
    test: str | None,
    threshold: float | None,
) -> ColumnDrift:
    report = compare(
        reference,
        current,
        columns=[column],
        tests=None if test is None else {column: test},
        thresholds=None if threshold is None else {column: threshold},
        workers=1,
    )
    return report.columns[0]
