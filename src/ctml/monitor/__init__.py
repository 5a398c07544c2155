"""Monitor (L2 loop): windows over the prediction log and its labels -> drift, realized performance, alarms.

    Monitor(meta, app, model=..., window=..., label_delay=..., clock=...).observe(now) -> MonitorReport
    report.to_observation() -> ctml.triggers.Observation      what a retraining policy reads
    monitor.history("monitor.accuracy", start, end)           the stored time series
    route_stats(meta, app, version, start, end, route=...)    one version's traffic on one route
    stage_stats(meta, app, candidate, champion, start, end)   a roll-out stage's ctml.rollout.StageStats

See docs/monitor.md for the windows, the label delay, the references and what is stored.
"""

from ctml.monitor._monitor import PREDICTION_PROFILE, Detector, Monitor, prediction_reference
from ctml.monitor._report import DataDrift, DetectorStatus, MonitorReport, Performance, PredictionDrift
from ctml.monitor._series import MonitorSeries
from ctml.monitor._stats import RouteStats, route_stats, stage_stats

__all__ = [
    "PREDICTION_PROFILE",
    "DataDrift",
    "Detector",
    "DetectorStatus",
    "Monitor",
    "MonitorReport",
    "MonitorSeries",
    "Performance",
    "PredictionDrift",
    "RouteStats",
    "prediction_reference",
    "route_stats",
    "stage_stats",
]
