"""Backtest every shared stream: ctml's default policy against never / periodic / always / River's ARF.

Each stream is replayed by :func:`ctml.backtest.run_backtest` with its defaults (warm-up 10%, a controller
cycle every n/50 rows, labels at once). Large streams are subsampled as the datasets' BASELINES.md does
(rialto: first 50,000 rows; kdd99: every 10th row). Text columns are not features (the backtest trains on
numeric columns), and columns that leak the label are dropped (bike sharing's ``casual`` and ``registered``).

The goal (issue: close the loop): the default policy at least as accurate as ``periodic`` and as ARF on most
streams, with at most a third of ``periodic``'s retrains. :func:`summary` counts where it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ctml.backtest import BacktestConfig, BacktestResult, run_backtest
from ctml.bench._markdown import write_section
from ctml.errors import ConfigError
from ctml.types import JSONObject

__all__ = [
    "MARK_END",
    "MARK_START",
    "QUICK",
    "STREAMS",
    "StreamCase",
    "StreamScore",
    "bench_backtest",
    "find_datasets",
    "markdown_section",
    "summary",
    "write_section",
]

MARK_START = "<!-- ctml bench backtest: start -->"
MARK_END = "<!-- ctml bench backtest: end -->"


@dataclass(frozen=True)
class StreamCase:
    """A shared stream: its file under the datasets folder, target, subsampling and columns to drop."""

    name: str
    file: str
    target: str
    every: int = 1
    limit: int | None = None
    drop: tuple[str, ...] = ()
    note: str = ""


STREAMS: tuple[StreamCase, ...] = (
    StreamCase("elec2", "elec2/elec2.csv", "class"),
    StreamCase("noaa_weather", "noaa_weather/noaa_weather.csv", "rain"),
    StreamCase("rialto", "rialto/rialto.csv.gz", "class", limit=50_000, note="first 50,000 rows"),
    StreamCase(
        "kdd99_10pct",
        "kdd99_10pct/kdd99_10pct.csv.gz",
        "label",
        every=10,
        note="every 10th row; text columns protocol_type, service, flag left out",
    ),
    StreamCase("spam", "spam/spam.csv.gz", "class"),
    StreamCase("powersupply", "powersupply/powersupply.csv", "class"),
    StreamCase("ozone", "ozone/ozone.csv", "class"),
    StreamCase("keystroke", "keystroke/keystroke.csv", "class"),
    StreamCase("usenet1", "usenet1/usenet1.csv", "Label"),
    StreamCase("luxembourg", "luxembourg/luxembourg.csv", "target"),
    StreamCase("outdoor", "outdoor/outdoor.csv", "class"),
    StreamCase(
        "bike_sharing_hourly",
        "bike_sharing_hourly/bike_sharing_hourly.csv",
        "cnt",
        drop=("casual", "registered"),
        note="casual + registered = cnt: dropped (leak)",
    ),
)
"""Every stream in the shared datasets folder, in the order of its BASELINES.md."""

QUICK = ("keystroke", "usenet1", "luxembourg", "ozone")
"""The small streams ``--quick`` runs (a few seconds each)."""


@dataclass(frozen=True)
class StreamScore:
    """One stream's result and whether ctml's policy met the goal on it."""

    case: StreamCase
    result: BacktestResult

    def value(self, policy: str) -> float | None:
        found = self.result.policies.get(policy)
        return None if found is None else found.value

    def _at_least(self, policy: str) -> bool | None:
        mine, other = self.value("ctml"), self.value(policy)
        if mine is None or other is None:
            return None
        return mine >= other if self.result.metric == "accuracy" else mine <= other

    @property
    def beats_periodic(self) -> bool | None:
        return self._at_least("periodic")

    @property
    def beats_arf(self) -> bool | None:
        return self._at_least("arf")

    @property
    def frugal(self) -> bool | None:
        """At most a third of periodic's retrains."""
        mine, other = self.result.policies.get("ctml"), self.result.policies.get("periodic")
        if mine is None or other is None:
            return None
        return mine.retrains * 3 <= other.retrains

    @property
    def goal(self) -> bool | None:
        checks = (self.beats_periodic, self.beats_arf, self.frugal)
        if any(c is None for c in checks):
            return None
        return all(checks)

    def to_json(self) -> JSONObject:
        out: JSONObject = {
            "stream": self.case.name,
            "rows": self.result.rows,
            "metric": self.result.metric,
            "note": self.case.note,
            "beats_periodic": self.beats_periodic,
            "beats_arf": self.beats_arf,
            "frugal": self.frugal,
            "goal": self.goal,
        }
        out.update(self.result.to_json())
        policies = out["policies"]
        assert isinstance(policies, dict)
        for entry in policies.values():  # the per-row events stay in `ctml backtest --json`
            assert isinstance(entry, dict)
            entry.pop("events", None)
        return out


def find_datasets(start: Path | None = None) -> Path | None:
    """``shared/datasets`` beside the working folder or any of its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for candidate in (folder / "shared" / "datasets", folder / "../shared/datasets"):
            if (candidate / "BASELINES.md").is_file() or (candidate / "elec2").is_dir():
                return candidate.resolve()
    return None


def bench_backtest(
    datasets: Path,
    *,
    streams: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
    label_delay_share: float | None = None,
    on_stream: Callable[[str, int, int], None] | None = None,
    on_row: Callable[[str, int, int], None] | None = None,
) -> list[StreamScore]:
    """Backtest ``streams`` (default: all) found under ``datasets``; ``on_stream(name, done, total)``;
    ``label_delay_share``: labels arrive that share of the stream's rows late (``0.01``: n/100)."""
    chosen = [c for c in STREAMS if streams is None or c.name in streams]
    unknown = sorted(set(streams or ()) - {c.name for c in STREAMS})
    if unknown:
        raise ConfigError(f"Unknown stream(s) {unknown}; choose among {', '.join(c.name for c in STREAMS)}.")
    missing = [c.file for c in chosen if not (datasets / c.file).is_file()]
    if missing:
        raise ConfigError(f"{datasets} lacks {', '.join(missing)}; pass the shared datasets folder with --datasets.")
    out = []
    for i, case in enumerate(chosen):
        if on_stream is not None:
            on_stream(case.name, i, len(chosen))
        config = BacktestConfig(every=case.every, limit=case.limit, drop=case.drop, label_delay_share=label_delay_share)
        if policies:
            config = replace(config, policies=tuple(policies))
        progress = None if on_row is None else _rows_of(case.name, on_row)
        out.append(StreamScore(case, run_backtest(datasets / case.file, case.target, config=config, progress=progress)))
    if on_stream is not None:
        on_stream("", len(chosen), len(chosen))
    return out


def _rows_of(name: str, on_row: Callable[[str, int, int], None]) -> Callable[[str, int, int], None]:
    return lambda policy, done, total: on_row(f"{name} {policy}", done, total)


def summary(scores: Sequence[StreamScore]) -> JSONObject:
    """How many streams met each part of the goal, of those where it could be judged."""

    def count(attr: str) -> JSONObject:
        judged = [getattr(s, attr) for s in scores if getattr(s, attr) is not None]
        return {"met": sum(bool(v) for v in judged), "of": len(judged)}

    return {name: count(name) for name in ("beats_periodic", "beats_arf", "frugal", "goal")}


def _fmt(score: StreamScore, policy: str) -> str:
    found = score.result.policies.get(policy)
    if found is None:
        return "-"
    value = f"{found.value:.1%}" if score.result.metric == "accuracy" else f"{found.value:.1f}"
    return value if policy in ("never", "arf") else f"{value} ({found.retrains})"


def markdown_section(scores: Sequence[StreamScore], command: str) -> str:
    """The section of docs/benchmarks.md between its markers."""
    total = summary(scores)

    def met(key: str) -> str:
        part = total[key]
        assert isinstance(part, dict)
        return f"{part['met']} of {part['of']}"

    lines = [
        MARK_START,
        "## Backtest: ctml's default policy on every shared stream",
        "",
        f"Produced by `{command}`; do not edit by hand. Each stream is replayed by `ctml backtest` with its defaults:",
        "warm-up on the first 10% of rows, a controller cycle every n/50 rows, labels at once. ctml's policy goes",
        "through the controller, the model server (every row is a request), the monitor, the triggers, the gate and",
        "the roll-out; the baselines refit the same estimator (gradient-boosted trees) directly. `never` trains",
        "once; `periodic` refits every n/50 rows on the last n/10; `always` refits at every cycle on the same window",
        "as ctml's sliding window; `arf` is River's ARF (10 trees) learning every row. Accuracy (MAE for",
        "bike sharing, lower is better) on the rows after the warm-up; retrains in brackets.",
        "",
        "| stream | rows | ctml (retrains) | promotions / rollbacks | never | periodic | always | arf | "
        "≥ periodic | ≥ arf | ≤ 1/3 retrains | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        mine = s.result.policies.get("ctml")
        moves = "-" if mine is None else f"{mine.promotions} / {mine.rollbacks}"
        flags = [("-" if v is None else ("yes" if v else "no")) for v in (s.beats_periodic, s.beats_arf, s.frugal)]
        lines.append(
            f"| {s.case.name} | {s.result.rows:,} | {_fmt(s, 'ctml')} | {moves} | {_fmt(s, 'never')} | "
            f"{_fmt(s, 'periodic')} | {_fmt(s, 'always')} | {_fmt(s, 'arf')} | {' | '.join(flags)} | {s.case.note} |"
        )
    lines += [
        "",
        f"Goal met (all three) on {met('goal')} streams; at least periodic's accuracy on {met('beats_periodic')}, "
        f"at least ARF's on {met('beats_arf')}, at most a third of periodic's retrains on {met('frugal')}.",
        MARK_END,
    ]
    return "\n".join(lines) + "\n"
