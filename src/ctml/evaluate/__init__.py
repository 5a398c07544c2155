"""Evaluate: metrics overall and per slice, paired tests of challenger vs champion, and the promotion gate.

    evaluate(y_true, y_pred, proba, task=..., slices=...) -> Report   every metric, overall and per slice
    accuracy, balanced_accuracy, f1, roc_auc, log_loss,             the metrics, equal to scikit-learn's
    expected_calibration_error, mae, rmse, mape
    mcnemar, delong, paired_bootstrap -> PairedTest                  paired tests on the same rows
    Gate(...).judge(y_true, challenger, champion, ...) -> Verdict    promote / reject / needs_approval
    record_verdict(meta, verdict, app=..., actor=...) -> Decision    store it as a "gate" decision

See docs/evaluate.md for the definitions, when each test is used, and the gate's decision rule.
"""

from __future__ import annotations

from ctml.evaluate._delong import delong
from ctml.evaluate._gate import GATE_TESTS, Gate
from ctml.evaluate._metrics import (
    METRICS,
    MetricSpec,
    accuracy,
    balanced_accuracy,
    expected_calibration_error,
    f1,
    log_loss,
    mae,
    mape,
    rmse,
    roc_auc,
)
from ctml.evaluate._paired import MCNEMAR_EXACT_MAX, PairedTest, mcnemar, paired_bootstrap
from ctml.evaluate._report import Report, SliceReport, evaluate
from ctml.evaluate._verdict import Check, Verdict, record_verdict

__all__ = [
    "GATE_TESTS",
    "MCNEMAR_EXACT_MAX",
    "METRICS",
    "Check",
    "Gate",
    "MetricSpec",
    "PairedTest",
    "Report",
    "SliceReport",
    "Verdict",
    "accuracy",
    "balanced_accuracy",
    "delong",
    "evaluate",
    "expected_calibration_error",
    "f1",
    "log_loss",
    "mae",
    "mape",
    "mcnemar",
    "paired_bootstrap",
    "record_verdict",
    "rmse",
    "roc_auc",
]
