"""Streaming detectors on usenet1: do ADWIN, Page-Hinkley and DDM find its four known drifts, and how fast?

usenet1 (Katakis et al.) is 1,500 messages a simulated user reads in order; the user's interest flips at
rows 300, 600, 900 and 1200. A naive Bayes classifier over the 99 binary word features is evaluated
prequentially (predict each row, then learn it); its 0/1 error stream feeds one detector. When the
detector fires, the model is retrained from scratch on what comes next, as a drift-triggered retrain would,
and the detector starts afresh.

Scoring: a detection at row ``t`` is a hit for the latest true drift ``d <= t`` not yet found, with delay
``t - d``, if it comes before the next drift; any other detection is a false alarm.

>>> errors, detections = run_stream(_toy_rows(), "ddm", {})
>>> score(detections, drifts=(100,), rows=200).found
1
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ctml.bench._markdown import write_section
from ctml.drift import ADWIN, DDM, PageHinkley
from ctml.errors import ConfigError

__all__ = [
    "DETECTORS",
    "RECOMMENDED",
    "USENET1_DRIFTS",
    "DetectorScore",
    "bench_detectors",
    "find_usenet1",
    "load_stream",
    "markdown_section",
    "run_stream",
    "score",
    "write_section",
]

USENET1_DRIFTS = (300, 600, 900, 1200)
#: The detector runs: (label, detector, parameters). River's defaults, and the setting ctml recommends for a
#: 0/1 error stream: ADWIN checking every 8 rows instead of 32; Page-Hinkley watching increases only (a fall
#: in the error is good news) with threshold 10 (its default 50 suits continuous values, not 0/1).
DETECTORS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("adwin (River defaults)", "adwin", {"delta": 0.002, "clock": 32}),
    ("adwin", "adwin", {"delta": 0.002, "clock": 8}),
    ("page_hinkley (River defaults, up)", "page_hinkley", {"threshold": 50.0, "delta": 0.005, "mode": "up"}),
    ("page_hinkley", "page_hinkley", {"threshold": 10.0, "delta": 0.005, "mode": "up"}),
    ("ddm (River defaults)", "ddm", {"warm_start": 30, "warning_threshold": 2.0, "drift_threshold": 3.0}),
)
#: The runs that must find every drift (the recommended settings).
RECOMMENDED = ("adwin", "page_hinkley", "ddm (River defaults)")
MARK_START = "<!-- ctml bench detectors: start -->"
MARK_END = "<!-- ctml bench detectors: end -->"

Rows = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


@dataclass(frozen=True)
class DetectorScore:
    detector: str
    params: dict[str, Any]
    detections: tuple[int, ...]
    delays: tuple[int | None, ...]
    false_alarms: int
    error_rate: float

    @property
    def found(self) -> int:
        return sum(d is not None for d in self.delays)

    @property
    def mean_delay(self) -> float | None:
        hits = [d for d in self.delays if d is not None]
        return sum(hits) / len(hits) if hits else None


def find_usenet1(start: Path | None = None) -> Path | None:
    """``shared/datasets/usenet1/usenet1.csv`` beside the working folder or any of its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for candidate in (folder / "shared", folder / "../shared"):
            path = candidate / "datasets" / "usenet1" / "usenet1.csv"
            if path.is_file():
                return path.resolve()
    return None


def load_stream(path: Path) -> Rows:
    """Features (0/1) and labels, in file (time) order; the last column is the label."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise ConfigError(f"{path} has no data rows; expected usenet1.csv with a header and 1,500 rows.")
    data = np.asarray(rows[1:], dtype=np.float64).astype(np.int64)
    return data[:, :-1], data[:, -1]


class _NaiveBayes:
    """Bernoulli naive Bayes learned one row at a time, Laplace-smoothed; ties go to class 0."""

    def __init__(self, features: int) -> None:
        self.classes = np.zeros(2)
        self.ones = np.zeros((2, features))

    def predict(self, x: npt.NDArray[np.int64]) -> int:
        if self.classes.sum() == 0:
            return 0
        p = (self.ones + 1.0) / (self.classes[:, None] + 2.0)
        log_prior = np.log((self.classes + 1.0) / (self.classes.sum() + 2.0))
        scores = log_prior + (np.log(p) * x + np.log1p(-p) * (1 - x)).sum(axis=1)
        return int(np.argmax(scores))

    def learn(self, x: npt.NDArray[np.int64], y: int) -> None:
        self.classes[y] += 1
        self.ones[y] += x


def _detector(name: str, params: dict[str, Any]) -> ADWIN | PageHinkley | DDM:
    if name == "adwin":
        return ADWIN(**params)
    if name == "page_hinkley":
        return PageHinkley(**params)
    if name == "ddm":
        return DDM(**params)
    raise ConfigError(f"Unknown detector {name!r}. Expected adwin, page_hinkley or ddm.")


def run_stream(rows: Rows, detector: str, params: dict[str, Any]) -> tuple[list[int], list[int]]:
    """Prequential errors and the rows where the detector fired (the model is retrained after each)."""
    features, labels = rows
    model = _NaiveBayes(features.shape[1])
    watcher = _detector(detector, params)
    errors: list[int] = []
    detections: list[int] = []
    for i, (x, y) in enumerate(zip(features, labels, strict=True)):
        error = int(model.predict(x) != y)
        errors.append(error)
        model.learn(x, int(y))
        if watcher.update(error).drift_detected:
            detections.append(i)
            model = _NaiveBayes(features.shape[1])
    return errors, detections


def score(
    detections: Sequence[int], drifts: Sequence[int], rows: int, detector: str = "", **extra: Any
) -> DetectorScore:
    delays: list[int | None] = [None] * len(drifts)
    false_alarms = 0
    bounds = [*drifts, rows]
    for t in detections:
        hit = False
        for k, d in enumerate(drifts):
            if d <= t < bounds[k + 1] and delays[k] is None:
                delays[k] = t - d
                hit = True
                break
        false_alarms += not hit
    return DetectorScore(
        detector=detector,
        params=extra.get("params", {}),
        detections=tuple(detections),
        delays=tuple(delays),
        false_alarms=false_alarms,
        error_rate=float(extra.get("error_rate", float("nan"))),
    )


def bench_detectors(path: Path) -> list[DetectorScore]:
    rows = load_stream(path)
    results = []
    for label, name, params in DETECTORS:
        errors, detections = run_stream(rows, name, params)
        results.append(
            score(detections, USENET1_DRIFTS, len(errors), label, params=params, error_rate=sum(errors) / len(errors))
        )
    return results


def markdown_section(results: Sequence[DetectorScore], command: str) -> str:
    """The section of docs/benchmarks.md between its markers, so other sections can live beside it."""
    lines = [
        MARK_START,
        "## Streaming drift detectors on usenet1",
        "",
        f"Produced by `{command}`; do not edit by hand. Known drifts at rows {', '.join(map(str, USENET1_DRIFTS))}.",
        "A naive Bayes model is evaluated prequentially; its 0/1 error stream feeds the detector, and the model is",
        "retrained from scratch after each detection. A detection is a hit for the latest drift before it (not",
        "yet found, before the next drift); otherwise it is a false alarm. Delay is in rows.",
        "",
        "| detector | parameters | drifts found | delays (300 / 600 / 900 / 1200) | mean delay | false alarms | "
        "error rate | detections |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        delays = " / ".join("missed" if d is None else str(d) for d in r.delays)
        mean = "" if r.mean_delay is None else f"{r.mean_delay:.0f}"
        lines.append(
            f"| {r.detector} | {params} | {r.found} of {len(r.delays)} | {delays} | {mean} | {r.false_alarms} | "
            f"{r.error_rate:.3f} | {', '.join(map(str, r.detections))} |"
        )
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


def _toy_rows() -> Rows:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(200, 5))
    y = np.concatenate((x[:100, 0], 1 - x[100:, 0]))
    return x, y
