"""Backtest every shared stream: ctml's default policy against never / periodic / always / River's ARF.

Each stream is replayed by :func:`ctml.backtest.run_backtest` with its defaults (warm-up 10%, a controller
cycle every n/50 rows, labels at once). Large streams are subsampled as the datasets' BASELINES.md does
(rialto: first 50,000 rows; kdd99: every 10th row). Text columns are not features (the backtest trains on
numeric columns), and columns that leak the label are dropped (bike sharing's ``casual`` and ``registered``).

The goal (issue: close the loop): the default policy at least as accurate as ``periodic`` and as ARF on most
streams, with at most a third of ``periodic``'s retrains. :func:`summary` counts where it holds.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Empty
from typing import Any

from threadpoolctl import threadpool_limits

from ctml.backtest import POLICIES, BacktestConfig, BacktestResult, run_backtest
from ctml.bench._markdown import write_section
from ctml.errors import ConfigError
from ctml.types import JSONObject

__all__ = [
    "LATE_END",
    "LATE_START",
    "MARK_END",
    "MARK_START",
    "QUICK",
    "STREAMS",
    "Progress",
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
LATE_START = "<!-- ctml bench backtest, labels late: start -->"
LATE_END = "<!-- ctml bench backtest, labels late: end -->"


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
    cost: float = 1.0
    """Roughly how long it takes beside the others (rows replayed x (features + 70), in millions): the parallel
    run starts the costliest first, so the last to finish is a short one."""


STREAMS: tuple[StreamCase, ...] = (
    StreamCase("elec2", "elec2/elec2.csv", "class", cost=3.5),
    StreamCase("noaa_weather", "noaa_weather/noaa_weather.csv", "rain", cost=1.4),
    StreamCase("rialto", "rialto/rialto.csv.gz", "class", limit=50_000, note="first 50,000 rows", cost=4.9),
    StreamCase(
        "kdd99_10pct",
        "kdd99_10pct/kdd99_10pct.csv.gz",
        "label",
        every=10,
        note="every 10th row; text columns protocol_type, service, flag left out",
        cost=5.4,
    ),
    StreamCase("spam", "spam/spam.csv.gz", "class", cost=3.5),
    StreamCase("powersupply", "powersupply/powersupply.csv", "class", cost=2.2),
    StreamCase("ozone", "ozone/ozone.csv", "class", cost=0.36),
    StreamCase("keystroke", "keystroke/keystroke.csv", "class", cost=0.13),
    StreamCase("usenet1", "usenet1/usenet1.csv", "Label", cost=0.25),
    StreamCase("luxembourg", "luxembourg/luxembourg.csv", "target", cost=0.19),
    StreamCase("outdoor", "outdoor/outdoor.csv", "class", cost=0.37),
    StreamCase(
        "bike_sharing_hourly",
        "bike_sharing_hourly/bike_sharing_hourly.csv",
        "cnt",
        drop=("casual", "registered"),
        note="casual + registered = cnt: dropped (leak)",
        cost=1.5,
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


Progress = Callable[[str, str, int, int], None]
"""``progress(stream, stage, done, total)``: ``stage`` is a policy (``done``/``total``: rows of ctml's replay),
``"queued"``, ``"baselines"`` or ``"done"``."""


def bench_backtest(
    datasets: Path,
    *,
    streams: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
    label_delay_share: float | None = None,
    jobs: int | None = None,
    bare_cost: bool = False,
    progress: Progress | None = None,
) -> list[StreamScore]:
    """Backtest ``streams`` (default: all) found under ``datasets``, ``jobs`` at a time in separate processes
    (default: one per CPU; 1 runs them here, one after the other), largest first so the last to finish is
    small; results in the order of :data:`STREAMS`. ``label_delay_share``: labels arrive that share of each
    stream's rows late (``0.01``: n/100); ``bare_cost``: also time ctml's candidates outside ctml."""
    chosen = [c for c in STREAMS if streams is None or c.name in streams]
    unknown = sorted(set(streams or ()) - {c.name for c in STREAMS})
    if unknown:
        raise ConfigError(f"Unknown stream(s) {unknown}; choose among {', '.join(c.name for c in STREAMS)}.")
    missing = [c.file for c in chosen if not (datasets / c.file).is_file()]
    if missing:
        raise ConfigError(f"{datasets} lacks {', '.join(missing)}; pass the shared datasets folder with --datasets.")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(chosen) or 1))
    config = BacktestConfig(label_delay_share=label_delay_share, bare_cost=bare_cost)
    if policies:
        config = replace(config, policies=tuple(policies))
    report = progress or (lambda *_: None)
    if jobs == 1:
        for case in chosen:
            report(case.name, "queued", 0, 0)
        results = {case.name: _one(case, datasets / case.file, config, report) for case in chosen}
    else:
        results = _parallel([_Task(case, datasets / case.file, config) for case in chosen], jobs, report)
    return [StreamScore(case, results[case.name]) for case in chosen]


@dataclass(frozen=True)
class _Task:
    """One stream's backtest, or one part of it: in parallel runs ctml's replay and the baselines of a stream
    are separate tasks (each as long as the other on the largest streams), merged when both are done."""

    case: StreamCase
    path: Path
    config: BacktestConfig
    part: str = ""

    @property
    def name(self) -> str:
        return self.case.name if not self.part else f"{self.case.name} {self.part}"

    def split(self) -> list[_Task]:
        mine = tuple(p for p in self.config.policies if p.startswith("ctml"))
        others = tuple(p for p in self.config.policies if not p.startswith("ctml"))
        if not mine or not others:
            return [self]
        baselines = replace(self.config, policies=others, bare_cost=False)
        return [replace(self, config=replace(self.config, policies=mine)),
                replace(self, config=baselines, part="baselines")]  # fmt: skip


def _merge(parts: list[BacktestResult]) -> BacktestResult:
    """A stream's results from its parts: every policy in the order a single run reports them."""
    found = {name: result for part in parts for name, result in part.policies.items()}
    policies = {name: found[name] for name in POLICIES if name in found}
    notes = tuple(dict.fromkeys(note for part in parts for note in part.notes))
    return replace(parts[0], policies=policies, notes=notes)


def _one(
    case: StreamCase, path: Path, config: BacktestConfig, report: Progress, *, name: str | None = None
) -> BacktestResult:
    cfg = replace(config, every=case.every, limit=case.limit, drop=case.drop)
    rows = _Rows(name or case.name, report)
    if not any(p.startswith("ctml") for p in cfg.policies):
        report(rows.name, "baselines", 0, 0)
    result = run_backtest(path, case.target, config=cfg, progress=rows)
    report(rows.name, "done", rows.total, rows.total)
    return result


@dataclass
class _Rows:
    """ctml's replay progress of one stream, told on as ``(stream, policy, done, total)``; after the replay the
    baselines run (stage ``baselines``)."""

    name: str
    report: Progress
    total: int = 0

    def __call__(self, policy: str, done: int, total: int) -> None:
        self.total = total
        self.report(self.name, "ctml" if done < total else "baselines", done, total)


def _parallel(tasks: list[_Task], jobs: int, report: Progress) -> dict[str, BacktestResult]:
    """Each task in a worker process (spawned: no threads or locks inherited), the costliest first, their
    progress through a queue; a stream's parts merged."""
    context = multiprocessing.get_context("spawn")
    parts: dict[str, list[BacktestResult]] = {}
    units = sorted((t for task in tasks for t in task.split()), key=lambda t: -t.case.cost)
    for unit in units:
        report(unit.name, "queued", 0, 0)
    with context.Manager() as manager:
        queue = manager.Queue()
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {pool.submit(_worker, unit, queue): unit for unit in units}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                _drain(queue, report)
                for future in done:  # a stream's error is raised here, named by it
                    parts.setdefault(futures[future].case.name, []).append(future.result())
        _drain(queue, report)
    return {name: _merge(found) for name, found in parts.items()}


def _worker(unit: _Task, queue: Any) -> BacktestResult:
    with threadpool_limits(limits=1):
        return _one(unit.case, unit.path, unit.config, lambda *args: queue.put(args), name=unit.name)


def _drain(queue: Any, report: Progress) -> None:
    while True:
        try:
            args = queue.get_nowait()
        except Empty:
            return
        report(*args)


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


def markdown_section(
    scores: Sequence[StreamScore], command: str, *, label_delay_share: float | None = None, seconds: float | None = None
) -> str:
    """The section of docs/benchmarks.md between its markers (labels at once, or ``label_delay_share`` late: a
    section of its own); ``seconds``: the command's wall time."""
    total = summary(scores)
    late = bool(label_delay_share)
    labels = "labels at once"
    if label_delay_share:
        per = 1.0 / label_delay_share
        labels = (
            f"labels n/{per:.0f} rows late"
            if abs(per - round(per)) < 1e-9
            else f"labels {label_delay_share:g}n rows late"
        )
    took = "" if seconds is None else f" ({seconds / 60:.1f} min on this machine)"

    def met(key: str) -> str:
        part = total[key]
        assert isinstance(part, dict)
        return f"{part['met']} of {part['of']}"

    lines = [
        LATE_START if late else MARK_START,
        f"## Backtest: ctml's default policy on every shared stream, {labels}",
        "",
        f"Produced by `{command}`{took}; do not edit by hand. Each stream is replayed by `ctml backtest` with its",
        f"defaults: warm-up on the first 10% of rows, a controller cycle every n/50 rows, {labels}. ctml's policy",
        "(the live tournament) goes through the controller, the model server (each window's rows in one block),",
        "the monitor, the triggers, the gate and",
        "the roll-out; the baselines refit the same estimator (gradient-boosted trees) directly. `never` trains",
        "once; `periodic` refits every n/50 rows on the last n/10; `always` refits at every cycle on the same window",
        "as ctml's sliding window; `arf` is River's ARF (10 trees) learning every row. Accuracy (MAE for",
        "bike sharing, lower is better) on the rows after the warm-up; retrains in brackets.",
        "",
        "| stream | rows | ctml (retrains) | promotions / rollbacks | never | periodic | always | arf | "
        "≥ periodic | ≥ arf | ≤ 1/3 retrains | ctml s | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        mine = s.result.policies.get("ctml")
        moves = "-" if mine is None else f"{mine.promotions} / {mine.rollbacks}"
        took_s = "-" if mine is None else f"{mine.seconds:,.0f}"
        flags = [("-" if v is None else ("yes" if v else "no")) for v in (s.beats_periodic, s.beats_arf, s.frugal)]
        lines.append(
            f"| {s.case.name} | {s.result.rows:,} | {_fmt(s, 'ctml')} | {moves} | {_fmt(s, 'never')} | "
            f"{_fmt(s, 'periodic')} | {_fmt(s, 'always')} | {_fmt(s, 'arf')} | {' | '.join(flags)} | {took_s} | "
            f"{s.case.note} |"
        )
    lines += [
        "",
        f"Goal met (all three) on {met('goal')} streams; at least periodic's accuracy on {met('beats_periodic')}, "
        f"at least ARF's on {met('beats_arf')}, at most a third of periodic's retrains on {met('frugal')}.",
        LATE_END if late else MARK_END,
    ]
    return "\n".join(lines) + "\n"
