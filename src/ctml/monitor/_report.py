"""What one look at an app found (:class:`MonitorReport`), and the :class:`~ctml.triggers.Observation` a
retraining policy reads from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ctml.triggers import ManualRequest, Observation
from ctml.types import JSON, JSONObject

__all__ = ["DataDrift", "DetectorStatus", "MonitorReport", "Performance", "PredictionDrift"]


@dataclass(frozen=True)
class DataDrift:
    """The window's inputs against the champion's reference profile: per feature ``(test, statistic, drifted)``."""

    share: float
    drifted_features: tuple[str, ...]
    features: dict[str, tuple[str, float, bool]]
    drifted: bool

    def to_json(self) -> JSONObject:
        return {
            "share": self.share,
            "drifted": self.drifted,
            "drifted_features": list(self.drifted_features),
            "features": {k: {"test": t, "statistic": s, "drifted": d} for k, (t, s, d) in self.features.items()},
        }


@dataclass(frozen=True)
class PredictionDrift:
    """Jensen-Shannon distance (in [0, 1]) of the window's predictions from the reference's.

    ``reference`` is ``"registry"`` (the predictions on the holdout, stored with the version) or
    ``"first window"`` (the champion's first window after its promotion).
    """

    statistic: float
    threshold: float
    drifted: bool
    reference: str
    reference_rows: int

    def to_json(self) -> JSONObject:
        return {
            "statistic": self.statistic,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reference": self.reference,
            "reference_rows": self.reference_rows,
        }


@dataclass(frozen=True)
class Performance:
    """The realized metric on the *due* window ``[start, end)``: the window moved back by the label delay.

    ``due`` predictions were made there; ``labelled`` of them had a label by the observation time.
    """

    metric: str
    higher_is_better: bool
    value: float | None
    start: datetime
    end: datetime
    due: int
    labelled: int

    @property
    def coverage(self) -> float | None:
        return None if self.due == 0 else self.labelled / self.due

    def to_json(self) -> JSONObject:
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "value": self.value,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "due": self.due,
            "labelled": self.labelled,
            "coverage": self.coverage,
        }


@dataclass(frozen=True)
class DetectorStatus:
    """The streaming detector over the champion's error stream (0/1 misses, or absolute errors).

    ``fed`` values went in at this look, ``total`` since the champion's promotion; ``fired_at`` are the
    prediction times at which it detected a change during this look.
    """

    name: str
    fed: int
    total: int
    estimation: float
    fired_at: tuple[datetime, ...] = ()

    @property
    def drift_detected(self) -> bool:
        return bool(self.fired_at)

    def to_json(self) -> JSONObject:
        return {
            "name": self.name,
            "fed": self.fed,
            "total": self.total,
            "estimation": self.estimation,
            "drift_detected": self.drift_detected,
            "fired_at": [t.isoformat() for t in self.fired_at],
        }


@dataclass(frozen=True)
class MonitorReport:
    """One observation of ``app``'s champion (``model`` v``version``) over ``[start, end)``.

    A part that could not be measured is None, and ``notes`` says why.
    """

    app: str
    model: str
    version: int
    promoted_at: datetime
    at: datetime
    start: datetime
    end: datetime
    rows: int
    data_drift: DataDrift | None
    prediction_drift: PredictionDrift | None
    performance: Performance
    detector: DetectorStatus
    baseline: float | None
    baseline_source: str | None
    step: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_observation(
        self,
        *,
        pipeline_fingerprint: str | None = None,
        champion_fingerprint: str | None = None,
        manual: Sequence[ManualRequest] = (),
    ) -> Observation:
        """The :class:`~ctml.triggers.Observation` of this report (``new_rows``: labelled predictions of the
        champion since its promotion, as fed to the detector)."""
        return Observation(
            at=self.at,
            new_rows=self.detector.total,
            drift_score=None if self.data_drift is None else self.data_drift.share,
            drifted_features=() if self.data_drift is None else self.data_drift.drifted_features,
            performance=self.performance.value,
            baseline=self.baseline,
            labelled_rows=self.performance.labelled,
            metric=self.performance.metric,
            higher_is_better=self.performance.higher_is_better,
            pipeline_fingerprint=pipeline_fingerprint,
            champion_fingerprint=champion_fingerprint,
            manual=tuple(manual),
        )

    def to_json(self) -> JSONObject:
        notes: list[JSON] = list(self.notes)
        return {
            "app": self.app,
            "model": self.model,
            "version": self.version,
            "promoted_at": self.promoted_at.isoformat(),
            "at": self.at.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "step": self.step,
            "rows": self.rows,
            "data_drift": None if self.data_drift is None else self.data_drift.to_json(),
            "prediction_drift": None if self.prediction_drift is None else self.prediction_drift.to_json(),
            "performance": self.performance.to_json(),
            "baseline": self.baseline,
            "baseline_source": self.baseline_source,
            "detector": self.detector.to_json(),
            "notes": notes,
        }
