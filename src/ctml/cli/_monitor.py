"""``ctml monitor APP``: one look at an app's champion — data and prediction drift, realized performance with
the label delay, the error-stream detector — as tables or JSON."""

from __future__ import annotations

from datetime import timedelta

import click

from ctml.app import parse_duration
from ctml.cli._context import State, pass_state
from ctml.cli._output import emit_json, table, when
from ctml.errors import ConfigError
from ctml.meta import MetaStore
from ctml.monitor import Monitor, MonitorReport

__all__ = ["monitor"]


class _Duration(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value, f"--{param.name.replace('_', '-') if param and param.name else 'duration'}")
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


@click.command("monitor")
@click.argument("app")
@click.option("--model", help="The app's model (default: the only model registered for APP).")
@click.option("--alias", default="champion", show_default=True, help="The alias watched.")
@click.option("--window", default="1h", show_default=True, type=_Duration(), help="Window length: 90s, 10m, 1h, 1d.")
@click.option(
    "--label-delay", default="0s", show_default=True, type=_Duration(), help="How long labels take to arrive."
)
@click.option("--record", is_flag=True, help="Store the look as one step of the monitor's time series.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def monitor(
    state: State,
    app: str,
    model: str | None,
    alias: str,
    window: timedelta,
    label_delay: timedelta,
    record: bool,
    as_json: bool,
) -> None:
    """Observe APP's champion over the last --window of the prediction log (read-only unless --record)."""
    meta = state.workspace.meta
    name = model or _model_of(meta, app)
    report = Monitor(meta, app, model=name, alias=alias, window=window, label_delay=label_delay).observe(record=record)
    if as_json:
        emit_json(report.to_json())
        return
    _print(report)


def _model_of(meta: MetaStore, app: str) -> str:
    found = [m.name for m, _ in meta.models.list(app=app)]
    if len(found) != 1:
        listed = ", ".join(found) if found else "none"
        raise ConfigError(f"App {app!r} has {len(found)} registered models ({listed}); choose one with --model.")
    return found[0]


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def _print(report: MonitorReport) -> None:
    perf = report.performance
    det = report.detector
    rows: list[tuple[str, str]] = [
        ("champion", f"{report.model} v{report.version} (promoted {when(report.promoted_at)})"),
        ("window", f"{when(report.start)} .. {when(report.end)}: {report.rows} predictions"),
        ("data drift", "" if report.data_drift is None else f"{report.data_drift.share:.0%} of features drifted"),
        (
            "prediction drift",
            ""
            if report.prediction_drift is None
            else f"{_num(report.prediction_drift.statistic)} (JS, vs {report.prediction_drift.reference})",
        ),
        (
            f"{perf.metric} (due window)",
            f"{_num(perf.value)} on {perf.labelled}/{perf.due} labelled, {when(perf.start)} .. {when(perf.end)}",
        ),
        ("baseline", f"{_num(report.baseline)} ({report.baseline_source or 'none'})"),
        (
            f"detector ({det.name})",
            f"fed {det.fed} (total {det.total}), error estimate {_num(det.estimation)}, "
            + ("FIRED at " + ", ".join(when(t) for t in det.fired_at) if det.drift_detected else "quiet"),
        ),
    ]
    table(f"Monitor {report.app} at {when(report.at)}", ["what", "value"], rows)
    if report.data_drift is not None:
        features = sorted(report.data_drift.features.items(), key=lambda kv: (not kv[1][2], kv[0]))
        table(
            "Data drift by feature",
            ["feature", "test", "statistic", "drifted"],
            [(name, test, _num(stat), "yes" if drifted else "") for name, (test, stat, drifted) in features],
        )
    if report.notes:
        table("Notes", ["note"], [(note,) for note in report.notes])
