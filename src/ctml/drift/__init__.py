"""Drift: mergeable column profiles, two-sample tests and distances, a domain classifier, stream detectors.

    profile(table) -> DatasetProfile            once per dataset version; to_json() / from_json() / merge()
    compare(reference, current) -> DriftReport  tables or stored profiles; one test per column, vectorised
    render_html(report) -> str                  a self-contained page (rendering apart from computing)
    domain_classifier(reference, current)       multivariate drift: held-out AUC, its bound, top features
    ADWIN, PageHinkley, DDM                     streaming detectors: update(x), drift_detected

See docs/drift.md for the test-choice rule, the thresholds and the sketch error bounds.
"""

from __future__ import annotations

from ctml.drift._adwin import ADWIN
from ctml.drift._choice import TESTS, DriftTest, choose_test
from ctml.drift._classifier import DomainClassifierResult, domain_classifier
from ctml.drift._ddm import DDM
from ctml.drift._files import read_table
from ctml.drift._html import render_html
from ctml.drift._page_hinkley import PageHinkley
from ctml.drift._profile import CategoricalProfile, ColumnProfile, DatasetProfile, NumericProfile, profile
from ctml.drift._report import ColumnDrift, DriftReport, compare
from ctml.drift._targets import label_drift, prediction_drift

__all__ = [
    "ADWIN",
    "DDM",
    "TESTS",
    "CategoricalProfile",
    "ColumnDrift",
    "ColumnProfile",
    "DatasetProfile",
    "DomainClassifierResult",
    "DriftReport",
    "DriftTest",
    "NumericProfile",
    "PageHinkley",
    "choose_test",
    "compare",
    "domain_classifier",
    "label_drift",
    "prediction_drift",
    "profile",
    "read_table",
    "render_html",
]
