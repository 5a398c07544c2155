"""The monitor: windows over the prediction log and its labels -> a :class:`MonitorReport`, stored as time series.

At ``observe(now)`` the champion (``model@alias``: version ``v``, promoted at ``p``) is measured on its route:

- **data drift**: the inputs of ``[now - window, now)`` against ``v``'s stored ``reference_profile``;
- **prediction drift**: the same window's predictions against the predictions stored with ``v``
  (``prediction_profile``, see :func:`prediction_reference`), or else against ``v``'s first window after
  its promotion, ``[p, p + window)``;
- **realized performance**: the *due* window ``[now - label_delay - window, now - label_delay)`` (labels of
  younger predictions are not expected yet), on the predictions whose label arrived by ``now``;
- **a streaming detector** (ADWIN by default) on the error stream, fed incrementally: each look feeds the
  labelled predictions that became due since the last one, in prediction-time order.

The detector's stream is kept in memory between looks, and each look stores the span it fed
(``monitor.detector.from`` / ``.to``). A new process replays those spans, with the labels that had arrived
by each look's time, so it continues with the same detector state as one that never stopped (exactly, when
labels are stamped when received; at most ``max_rows`` predictions are replayed).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pyarrow as pa

from ctml.clock import Clock, WallClock, utc
from ctml.drift import ADWIN, DatasetProfile, compare, prediction_drift, profile
from ctml.errors import ConfigError, NotFoundError
from ctml.meta import LabeledPrediction, MetaStore, MetricPoint, ModelVersion, PredictionRecord
from ctml.monitor._report import DataDrift, DetectorStatus, MonitorReport, Performance, PredictionDrift
from ctml.monitor._series import MonitorSeries
from ctml.monitor._window import (
    METRIC_OF,
    Task,
    column_of,
    errors_of,
    inputs_table,
    predictions_table,
    read,
    realized,
    task_of,
)
from ctml.types import JSON, JSONObject

__all__ = ["PREDICTION_PROFILE", "Detector", "Monitor", "prediction_reference"]

PREDICTION_PROFILE = "prediction_profile"
"""The key of a version's metadata holding the profile of its predictions on the holdout."""


class Detector(Protocol):
    """A streaming change detector: ``ctml.drift.ADWIN``, ``PageHinkley`` or ``DDM``."""

    drift_detected: bool

    def update(self, x: float) -> object: ...


def prediction_reference(predictions: Sequence[JSON]) -> JSONObject:
    """The profile of a model's predictions on its holdout, to store with the version, so prediction drift has
    a reference from the first look::

        registry.register(..., meta={PREDICTION_PROFILE: prediction_reference(holdout_predictions)})
    """
    return profile(pa.table({"prediction": column_of(list(predictions))})).to_json()


@dataclass
class _Stream:
    """The error stream of one champion version: fed up to ``cursor`` (prediction time)."""

    version: int
    promoted_at: datetime
    cursor: datetime
    detector: Detector
    total: int = 0
    since: int = 0  # values since the last detection, and their sum: the detector-independent estimate
    since_sum: float = 0.0
    fired: list[datetime] = field(default_factory=list)

    def feed(self, records: list[LabeledPrediction], task: Task, seen_by: datetime) -> int:
        """Feed the labelled records (label arrived by ``seen_by``), oldest first; return how many went in."""
        usable = [r for r in records if r.labeled_at is not None and r.labeled_at <= seen_by]
        fed = 0
        for record, error in zip(usable, errors_of(usable, task), strict=True):
            self.detector.update(error)
            fed += 1
            if self.detector.drift_detected:
                self.fired.append(record.prediction.at)
                self.since, self.since_sum = 0, 0.0
            else:
                self.since += 1
                self.since_sum += error
        self.total += fed
        return fed

    @property
    def estimation(self) -> float:
        return self.since_sum / self.since if self.since else 0.0


class Monitor:
    """Observe the champion of ``app`` (``model@alias``) on the prediction log; store what it saw.

    >>> from ctml.meta import open_meta
    >>> from ctml.clock import SimulatedClock
    >>> clock = SimulatedClock(datetime(2026, 3, 1, tzinfo=UTC))
    >>> meta = open_meta("sqlite://", clock=clock)
    >>> _ = meta.models.create_version("m", artifact_digest=None, flavor=None, meta={})
    >>> _ = meta.models.set_alias("m", "champion", 1)
    >>> clock.advance(3600)
    >>> report = Monitor(meta, "elec", model="m", clock=clock).observe()
    >>> report.rows, report.performance.due, report.notes[0]
    (0, 0, 'data drift: v1 has no reference_profile; register it with one.')
    """

    def __init__(
        self,
        meta: MetaStore,
        app: str,
        *,
        model: str,
        alias: str = "champion",
        route: str = "champion",
        window: timedelta = timedelta(hours=1),
        label_delay: timedelta = timedelta(0),
        clock: Clock | None = None,
        task: Task | None = None,
        detector: Callable[[], Detector] = ADWIN,
        drift_share: float = 0.5,
        prediction_threshold: float = 0.1,
        min_rows: int = 500,
        max_rows: int = 100_000,
    ) -> None:
        if window <= timedelta(0):
            raise ConfigError(f"The 'window' parameter of Monitor must be a positive duration. Got {window!r}.")
        if label_delay < timedelta(0):
            raise ConfigError(f"The 'label_delay' parameter of Monitor must be >= 0. Got {label_delay!r}.")
        if task is not None and task not in METRIC_OF:
            raise ConfigError(
                f"The 'task' parameter of Monitor must be 'classification' or 'regression'. Got {task!r}."
            )
        if min_rows < 1 or max_rows < 1:
            raise ConfigError(f"min_rows and max_rows of Monitor must be >= 1. Got {min_rows} and {max_rows}.")
        self.meta = meta
        self.app = app
        self.model = model
        self.alias = alias
        self.route = route
        self.window = window
        self.label_delay = label_delay
        self.clock = clock or WallClock()
        self.task = task
        self.detector = detector
        self.drift_share = drift_share
        self.prediction_threshold = prediction_threshold
        self.min_rows = min_rows
        self.max_rows = max_rows
        self.series = MonitorSeries(meta, app)
        self._stream: _Stream | None = None
        self._first_window: tuple[int, pa.Table] | None = None
        # the champion route's requests, decoded, by request id: successive windows overlap by most of their rows,
        # so each look decodes only the requests logged since the last one (the labels are read every time)
        self._decoded: dict[str, list[PredictionRecord]] = {}

    def history(self, key: str, start: datetime | None = None, end: datetime | None = None) -> list[MetricPoint]:
        """The stored series ``key`` (``monitor.accuracy``, ``monitor.drift.share``, ...) in ``[start, end)``."""
        return self.series.history(key, start, end)

    def observe(self, now: datetime | None = None, *, record: bool = True) -> MonitorReport:
        """Measure the window ending at ``now`` (default: the clock's now). ``record``: store the observation
        as one step of the time series and advance the detector's stream; without it, nothing changes."""
        now = utc(now) if now is not None else self.clock.now()
        target = self.meta.models.get_alias(self.model, self.alias)
        assert target.version is not None
        version = self.meta.models.get_version(self.model, target.version)
        promoted_at = target.updated_at
        notes: list[str] = []
        start = now - self.window
        current = self._read(start, now, version.version)
        task = self.task or task_of(current, version.meta.get("task"))
        metric, higher = METRIC_OF[task]

        data_drift = self._data_drift(version, current, notes)
        pred_drift = self._prediction_drift(version, promoted_at, start, current, notes)

        due_end = now - self.label_delay
        due_start = due_end - self.window
        due = current if self.label_delay == timedelta(0) else self._read(due_start, due_end, version.version)
        seen = [r for r in due if r.labeled_at is not None and r.labeled_at <= now]
        value, labelled = realized(seen, task)
        performance = Performance(metric, higher, value, due_start, due_end, len(due), labelled)
        if not due:
            notes.append(f"performance: no prediction of v{version.version} is due in [{due_start}, {due_end}).")

        stream = self._stream_for(version.version, promoted_at, due_start, task)
        if not record:
            stream = copy.deepcopy(stream)
        fed_from = stream.cursor
        fired_before = len(stream.fired)
        fed = 0
        if due_end > stream.cursor:
            batch = due if fed_from >= due_start else self._read(fed_from, due_end, version.version)
            fed = stream.feed([r for r in batch if r.prediction.at >= fed_from], task, now)
            stream.cursor = due_end
        detector = DetectorStatus(
            type(stream.detector).__name__, fed, stream.total, stream.estimation, tuple(stream.fired[fired_before:])
        )

        baseline, source = self._baseline(version, metric, promoted_at, value)
        step = self.series.next_step()
        report = MonitorReport(
            app=self.app,
            model=self.model,
            version=version.version,
            promoted_at=promoted_at,
            at=now,
            start=start,
            end=now,
            rows=len(current),
            data_drift=data_drift,
            prediction_drift=pred_drift,
            performance=performance,
            detector=detector,
            baseline=baseline,
            baseline_source=source,
            step=step,
            notes=tuple(notes),
        )
        if record:
            self._stream = stream
            self.series.write(now, step, _values(report, fed_from, stream.cursor))
        self._forget(min(start, due_start))
        return report

    # -- parts -----------------------------------------------------------------------------------------------

    def _read(self, start: datetime, end: datetime, version: int) -> list[LabeledPrediction]:
        return read(self.meta, self.app, start, end, version=version, route=self.route, max_rows=self.max_rows,
                    decoded=self._decoded)  # fmt: skip

    def _forget(self, before: datetime) -> None:
        """Drop the decoded requests made before ``before``: the next look's windows start later."""
        self._decoded = {rid: records for rid, records in self._decoded.items() if records and records[0].at >= before}

    def _data_drift(
        self, version: ModelVersion, current: list[LabeledPrediction], notes: list[str]
    ) -> DataDrift | None:
        stored = version.meta.get("reference_profile")
        if not isinstance(stored, dict):
            notes.append(f"data drift: v{version.version} has no reference_profile; register it with one.")
            return None
        if len(current) < self.min_rows:
            notes.append(f"data drift: {len(current)} rows in the window, fewer than min_rows={self.min_rows}.")
            return None
        try:
            report = compare(
                DatasetProfile.from_json(stored), inputs_table(current), share_threshold=self.drift_share, workers=1
            )
        except ConfigError as exc:
            notes.append(f"data drift: {exc}")
            return None
        features = {c.column: (c.test, _finite(c.statistic), c.drifted) for c in report.columns}
        return DataDrift(report.drifted_share, tuple(report.drifted_columns), features, report.drifted)

    def _prediction_drift(
        self,
        version: ModelVersion,
        promoted_at: datetime,
        start: datetime,
        current: list[LabeledPrediction],
        notes: list[str],
    ) -> PredictionDrift | None:
        window = predictions_table(current)
        if window.num_rows < self.min_rows:
            notes.append(f"prediction drift: {window.num_rows} predictions in the window (min_rows={self.min_rows}).")
            return None
        stored = version.meta.get(PREDICTION_PROFILE)
        reference: pa.Table | DatasetProfile
        if isinstance(stored, dict):
            reference, source = DatasetProfile.from_json(stored), "registry"
            rows = reference.rows
        else:
            if start < promoted_at + self.window:
                notes.append(
                    f"prediction drift: v{version.version} stores no {PREDICTION_PROFILE}; its reference is its "
                    f"first window after promotion, [{promoted_at}, {promoted_at + self.window}), still filling."
                )
                return None
            if self._first_window is None or self._first_window[0] != version.version:
                first = self._read(promoted_at, promoted_at + self.window, version.version)
                self._first_window = (version.version, predictions_table(first))
            reference, source = self._first_window[1], "first window"
            rows = reference.num_rows
            if rows < self.min_rows:
                notes.append(f"prediction drift: the first window after promotion has {rows} predictions.")
                return None
        try:
            found = prediction_drift(reference, window, test="jensenshannon", threshold=self.prediction_threshold)
        except ConfigError as exc:
            notes.append(f"prediction drift: {exc}")
            return None
        return PredictionDrift(_finite(found.statistic), found.threshold, found.drifted, source, rows)

    def _baseline(
        self, version: ModelVersion, metric: str, promoted_at: datetime, value: float | None
    ) -> tuple[float | None, str | None]:
        keys = (metric, f"holdout_{metric}")
        for key in keys:
            if key in version.metrics:
                return version.metrics[key], "registry"
        if version.run_id is not None:
            try:
                trained = self.meta.runs.get(version.run_id).metrics
            except NotFoundError:
                trained = {}
            for key in keys:
                if key in trained:
                    return trained[key], "training run"
        first = self.series.history(f"monitor.{metric}", start=promoted_at)
        if first:
            return first[0].value, "first window"
        return (value, "first window") if value is not None else (None, None)

    def _stream_for(self, version: int, promoted_at: datetime, due_start: datetime, task: Task) -> _Stream:
        held = self._stream
        if held is not None and (held.version, held.promoted_at) == (version, promoted_at):
            return held
        stream = self._replay(version, promoted_at, task)
        if stream is None:  # nothing stored since the promotion: start with this look's due window
            stream = _Stream(version, promoted_at, max(promoted_at, due_start), self.detector())
        return stream

    def _replay(self, version: int, promoted_at: datetime, task: Task) -> _Stream | None:
        """The stream as the stored looks since the promotion fed it (the newest ones, up to ``max_rows``)."""
        spans = _spans(self.series, version, promoted_at)
        if not spans:
            return None
        budget, first = 0, len(spans) - 1
        while first > 0 and budget + spans[first - 1][3] <= self.max_rows // 2:
            first -= 1
            budget += spans[first][3]
        kept = spans[first:]
        records = self._read(kept[0][1], kept[-1][2], version)
        stream = _Stream(version, promoted_at, kept[0][1], self.detector())
        for at, lo, hi, _fed, _total in kept:
            stream.feed([r for r in records if lo <= r.prediction.at < hi], task, at)
            stream.cursor = hi
        stream.total = spans[-1][4]  # the stored count, also when older looks were not replayed
        stream.fired.clear()
        return stream


_SPAN_KEYS = ("monitor.detector.from", "monitor.detector.to", "monitor.detector.fed", "monitor.detector.total")


def _spans(
    series: MonitorSeries, version: int, promoted_at: datetime
) -> list[tuple[datetime, datetime, datetime, int, int]]:
    """``(look time, fed from, fed to, fed, total)`` of each stored look at ``version`` since its promotion."""
    by_step = {key: {p.step: p for p in series.history(key, start=promoted_at)} for key in _SPAN_KEYS}
    out = []
    for step, point in sorted({p.step: p for p in series.history("monitor.version", start=promoted_at)}.items()):
        lo, hi, fed, total = (by_step[key].get(step) for key in _SPAN_KEYS)
        if int(point.value) != version or lo is None or hi is None or fed is None or total is None:
            continue
        if hi.value > lo.value:
            out.append((point.at, _at(lo.value), _at(hi.value), int(fed.value), int(total.value)))
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    """Unix milliseconds rounded up: predictions are logged in whole ms, so ``at < t`` iff ``at_ms < _ms(t)``."""
    return -(-((moment - _EPOCH) // timedelta(microseconds=1)) // 1000)


def _at(millis: float) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(millis))


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _values(report: MonitorReport, fed_from: datetime, fed_to: datetime) -> dict[str, float]:
    """The report as metric values (None values are left out: a series has gaps, not made-up numbers)."""
    perf = report.performance
    out: dict[str, float] = {
        "monitor.rows": report.rows,
        "monitor.version": report.version,
        "monitor.due": perf.due,
        "monitor.labelled": perf.labelled,
        "monitor.error_drift": 1.0 if report.detector.drift_detected else 0.0,
        "monitor.error_estimate": report.detector.estimation,
        "monitor.detector.fed": report.detector.fed,
        "monitor.detector.total": report.detector.total,
        "monitor.detector.from": _ms(fed_from),
        "monitor.detector.to": _ms(fed_to),
    }
    if perf.value is not None:
        out[f"monitor.{perf.metric}"] = perf.value
    if perf.coverage is not None:
        out["monitor.label_coverage"] = perf.coverage
    if report.baseline is not None:
        out["monitor.baseline"] = report.baseline
    if report.data_drift is not None:
        out["monitor.drift.share"] = report.data_drift.share
        for name, (_test, statistic, _drifted) in report.data_drift.features.items():
            out[f"monitor.drift.{name}"] = statistic
    if report.prediction_drift is not None:
        out["monitor.prediction_drift"] = report.prediction_drift.statistic
    return out
