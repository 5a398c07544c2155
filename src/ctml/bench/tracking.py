"""Tracking benchmark: ctml against MLflow, the same workload through each public API, in one process.

The workload is "100 runs x (20 params + 50 metrics), then query 1,000 runs by a metric filter":

- **write**: for each of 100 runs, create it, log its 20 params, 50 metrics (step 0) and 2 tags in one batch
  call, and end it. Three API calls a run on each side: ctml ``Tracker.start_run`` / ``ActiveRun.log_batch``
  / ``ActiveRun.finish``; MLflow ``MlflowClient.create_run`` / ``log_batch`` / ``set_terminated``.
- **query**: "query 1,000 runs" is read as 10 searches, each filtering all 100 runs by a metric (1,000 runs
  filtered in all). The Q-th search is ``metrics.metric_0Q > T`` with T the median of that metric over the
  runs (rounded to 6 decimals), so each returns about half of them, 500 full runs in all, each with its
  params, latest metrics and tags. This reading costs MLflow about one second on a 2-core machine
  (1.0-1.2 s). Two other readings were measured and not taken: 1,000 separate searches (about a hundred times
  that), and filters every run passes, returning 1,000 runs (about two seconds).

What makes it fair:

- each repeat gives each tool a fresh temporary folder with its own SQLite file; both log the same data,
  made by one seeded numpy RNG (timestamps included), and both run on the same SQLite and SQLAlchemy;
- ``time.perf_counter`` brackets the write loop and the query loop only: importing the tool, creating the
  database and running its migrations (``open_meta``; ``MlflowClient`` and ``create_experiment``) are left
  out of both;
- each tool keeps its own default SQLite settings: ctml a WAL journal with ``synchronous=NORMAL`` (a commit
  survives a crash of the process; the last ones can be lost on power loss), MLflow a rollback journal with
  ``synchronous=FULL`` (an fsync per commit). Temporary folders go where ``TMPDIR`` says; on a busy disk
  MLflow's fsyncs make its times, and so the ratios, vary more than ctml's;
- each phase reports the best of N repeats (N = 3 by default) and keeps every sample; repeats alternate
  between the tools, so a busy moment of the machine does not fall on one tool only;
- MLflow's usage telemetry is switched off while it is measured, so no network call is timed against it;
- after the timers stop, the rows each database holds and the runs each search returned are counted and
  checked against the data, so neither side can win by doing less.

>>> plan = _plan(Workload(runs=4, metrics=2, queries=2))
>>> plan.filters, plan.matches
(['metrics.metric_00 > 0.621799', 'metrics.metric_01 > 0.499642'], [2, 2])
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import sqlalchemy

from ctml.errors import ConfigError, MissingExtraError
from ctml.meta import MetaStore, Metric, open_meta
from ctml.tracking import Tracker
from ctml.types import JSON

__all__ = [
    "GOALS",
    "INSTALL_HINT",
    "TARGETS",
    "RowCounts",
    "ToolTiming",
    "TrackingResult",
    "Workload",
    "bench_tracking",
]

#: Acceptance targets and goals for ctml's speedup over MLflow (MLflow's time / ctml's time).
TARGETS = {"write": 20.0, "query": 10.0}
GOALS = {"write": 30.0, "query": 20.0}
INSTALL_HINT = "pip install 'ctml[bench]'"

#: Called before each timed phase and once at the end, never inside a timer: (what is next, done, total).
Progress = Callable[[str, int, int], None]

_APP = "bench-tracking"
# A fixed start time, so the logged data is the same on every run of the benchmark.
_EPOCH_MS = 1_700_000_000_000


@dataclass(frozen=True)
class Workload:
    """Sizes of the workload; the defaults are the documented benchmark."""

    runs: int = 100
    params: int = 20
    metrics: int = 50
    tags: int = 2
    queries: int = 10
    repeats: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for name, least in (("runs", 1), ("params", 0), ("metrics", 1), ("tags", 0), ("queries", 1), ("repeats", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < least:
                raise ConfigError(
                    f"The {name!r} parameter of Workload must be an int >= {least}. Got {value!r} instead."
                )

    @classmethod
    def quick(cls) -> Workload:
        """A workload that finishes in a few seconds, for CI: 20 runs, 5 searches, one repeat."""
        return cls(runs=20, queries=5, repeats=1)


@dataclass(frozen=True)
class RowCounts:
    runs: int
    params: int
    metrics: int


@dataclass(frozen=True)
class ToolTiming:
    """One tool's measurement: every repeat's seconds, and what it stored and returned (checked)."""

    tool: str
    version: str
    write_s: tuple[float, ...]
    query_s: tuple[float, ...]
    stored: RowCounts
    returned: RowCounts

    @property
    def best_write_s(self) -> float:
        return min(self.write_s)

    @property
    def best_query_s(self) -> float:
        return min(self.query_s)


@dataclass(frozen=True)
class TrackingResult:
    workload: Workload
    filters: tuple[str, ...]
    runs_returned: int
    ctml: ToolTiming
    mlflow: ToolTiming | None
    mlflow_skipped: str | None
    versions: dict[str, str]

    @property
    def write_speedup(self) -> float | None:
        return None if self.mlflow is None else self.mlflow.best_write_s / self.ctml.best_write_s

    @property
    def query_speedup(self) -> float | None:
        return None if self.mlflow is None else self.mlflow.best_query_s / self.ctml.best_query_s

    @property
    def meets_targets(self) -> bool | None:
        if self.write_speedup is None or self.query_speedup is None:
            return None
        return self.write_speedup >= TARGETS["write"] and self.query_speedup >= TARGETS["query"]

    @property
    def method(self) -> dict[str, str]:
        """What was done and timed, in words."""
        w = self.workload
        return {
            "write": (
                f"{w.runs} runs, each: create, one log_batch ({w.params} params, {w.metrics} metrics, "
                f"{w.tags} tags), end"
            ),
            "query": (
                f"{w.queries} searches, each filtering all {w.runs} runs by 'metrics.KEY > median of KEY' "
                f"({w.queries * w.runs} runs filtered), returning {self.runs_returned} full runs in all "
                "with params, latest metrics and tags"
            ),
            "timing": "time.perf_counter around each phase; imports, database creation and migration excluded",
            "storage": (
                "SQLite files, each tool with its own defaults: ctml WAL + synchronous=NORMAL, "
                "MLflow rollback journal + synchronous=FULL"
            ),
            "statistic": f"best of {w.repeats} repeat{'s' if w.repeats != 1 else ''}, each in fresh temporary folders",
        }

    def as_dict(self) -> dict[str, JSON]:
        """Flat JSON: ``ctml_write_s``, ``mlflow_write_s``, ``write_speedup``, ... (MLflow's null when skipped)."""
        w = self.workload
        out: dict[str, JSON] = {
            "benchmark": "tracking",
            "runs": w.runs,
            "params_per_run": w.params,
            "metrics_per_run": w.metrics,
            "tags_per_run": w.tags,
            "queries": w.queries,
            "runs_filtered": w.queries * w.runs,
            "runs_returned": self.runs_returned,
            "repeats": w.repeats,
            "seed": w.seed,
            "query_filters": list(self.filters),
            "method": dict(self.method),
            "write_speedup": self.write_speedup,
            "query_speedup": self.query_speedup,
            "targets": {f"{k}_speedup": v for k, v in TARGETS.items()},
            "goals": {f"{k}_speedup": v for k, v in GOALS.items()},
            "meets_targets": self.meets_targets,
            "mlflow_skipped": self.mlflow_skipped,
            "mlflow_install": None if self.mlflow is not None else INSTALL_HINT,
            "versions": dict(self.versions),
        }
        for name, timing in (("ctml", self.ctml), ("mlflow", self.mlflow)):
            out[f"{name}_write_s"] = None if timing is None else timing.best_write_s
            out[f"{name}_query_s"] = None if timing is None else timing.best_query_s
            out[f"{name}_write_samples_s"] = None if timing is None else list(timing.write_s)
            out[f"{name}_query_samples_s"] = None if timing is None else list(timing.query_s)
            out[f"{name}_stored"] = None if timing is None else _counts(timing.stored)
            out[f"{name}_returned"] = None if timing is None else _counts(timing.returned)
        return out


def bench_tracking(
    workload: Workload | None = None,
    *,
    mlflow: bool = True,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> TrackingResult:
    """Measure ctml, then MLflow (unless ``mlflow=False`` or it is not installed), on ``workload``.

    Stores go in a temporary folder, or under ``workdir`` (kept, one subfolder per tool and repeat:
    ``ctml-1/meta.db``, ``mlflow-1/mlflow.db``, ...) when it is given.
    """
    workload = workload or Workload()
    plan = _plan(workload)
    sides: list[_Side] = [_CtmlSide()]
    skipped: str | None = "not asked for" if not mlflow else None
    with contextlib.ExitStack() as stack:
        if mlflow:
            stack.enter_context(_no_mlflow_telemetry())
            try:
                sides.append(_MlflowSide())
            except MissingExtraError as exc:
                skipped = f"{exc.module} is not installed"
            else:
                # After the import, which sets the level of MLflow's logger to INFO.
                stack.enter_context(_quiet_logger("mlflow"))
        root = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ctml-bench-")))
        report = _Reporter(progress, total=2 * workload.repeats * len(sides))
        timings = _measure(sides, workload, plan, root, report)
        report.done()
    versions = {
        "ctml": sides[0].version,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
    }
    if len(sides) > 1:
        versions["mlflow"] = sides[1].version
    return TrackingResult(
        workload=workload,
        filters=tuple(plan.filters),
        runs_returned=sum(plan.matches),
        ctml=timings[0],
        mlflow=timings[1] if len(timings) > 1 else None,
        mlflow_skipped=skipped,
        versions=versions,
    )


# -- the workload --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunData:
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    at_ms: int


@dataclass(frozen=True)
class _Plan:
    runs: list[_RunData]
    filters: list[str]
    matches: list[int]  # how many runs each filter must return, counted on the data itself


def _plan(workload: Workload) -> _Plan:
    rng = np.random.default_rng(workload.seed)
    values = rng.random((workload.runs, workload.metrics))
    settings = rng.integers(0, 1_000_000, (workload.runs, workload.params))
    runs = [
        _RunData(
            name=f"run-{i:04d}",
            params={f"param_{j:02d}": str(int(settings[i, j])) for j in range(workload.params)},
            metrics={f"metric_{j:02d}": float(values[i, j]) for j in range(workload.metrics)},
            tags={f"tag_{j}": f"value-{i}-{j}" for j in range(workload.tags)},
            at_ms=_EPOCH_MS + i,
        )
        for i in range(workload.runs)
    ]
    filters, matches = [], []
    for q in range(workload.queries):
        column = values[:, q % workload.metrics]
        threshold = round(float(np.median(column)), 6)
        filters.append(f"metrics.metric_{q % workload.metrics:02d} > {threshold}")
        matches.append(int((column > threshold).sum()))
    return _Plan(runs, filters, matches)


def _counts(counts: RowCounts) -> dict[str, JSON]:
    return {"runs": counts.runs, "params": counts.params, "metrics": counts.metrics}


# -- measuring -----------------------------------------------------------------------------------------------


class _Side(Protocol):
    """One tool under test. ``open``, ``count`` and ``close`` are untimed; ``write`` and ``query`` are timed."""

    tool: str
    version: str

    def open(self, folder: Path) -> Path: ...  # returns the SQLite file it writes

    def write(self, runs: Sequence[_RunData]) -> None: ...

    def query(self, filters: Sequence[str], limit: int) -> list[Any]: ...  # the runs each search returned

    def count(self, found: list[Any]) -> RowCounts: ...

    def close(self) -> None: ...


class _Reporter:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self._progress = progress
        self._total = total
        self._done = 0

    def next(self, what: str) -> None:
        if self._progress is not None:
            self._progress(what, self._done, self._total)
        self._done += 1

    def done(self) -> None:
        if self._progress is not None:
            self._progress("done", self._total, self._total)


def _measure(
    sides: Sequence[_Side], workload: Workload, plan: _Plan, root: Path, report: _Reporter
) -> list[ToolTiming]:
    """Repeats alternate between the tools, so a busy moment of the machine does not fall on one tool only."""
    samples: list[tuple[list[float], list[float]]] = [([], []) for _ in sides]
    counts = [(RowCounts(0, 0, 0), RowCounts(0, 0, 0)) for _ in sides]
    for repeat in range(1, workload.repeats + 1):
        for index, side in enumerate(sides):
            writes, queries = samples[index]
            folder = root / f"{side.tool}-{repeat}"
            folder.mkdir(parents=True)
            database = side.open(folder)
            try:
                of = f"(repeat {repeat}/{workload.repeats})"
                report.next(f"{side.tool}: writing {workload.runs} runs {of}")
                started = time.perf_counter()
                side.write(plan.runs)
                writes.append(time.perf_counter() - started)
                report.next(f"{side.tool}: {workload.queries} searches {of}")
                started = time.perf_counter()
                found = side.query(plan.filters, workload.runs)
                queries.append(time.perf_counter() - started)
                returned = side.count(found)
            finally:
                side.close()
            stored = _stored_rows(database)
            _check(side.tool, workload, plan, stored, returned)
            counts[index] = (stored, returned)
    return [
        ToolTiming(side.tool, side.version, tuple(writes), tuple(queries), stored, returned)
        for side, (writes, queries), (stored, returned) in zip(sides, samples, counts, strict=True)
    ]


def _stored_rows(database: Path) -> RowCounts:
    # Both tools name these tables alike; plain sqlite3 reads them without either tool's code.
    with contextlib.closing(sqlite3.connect(database)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM params), (SELECT count(*) FROM metrics)"
        ).fetchone()
    return RowCounts(*row)


def _check(tool: str, workload: Workload, plan: _Plan, stored: RowCounts, returned: RowCounts) -> None:
    w, n = workload, sum(plan.matches)
    want_stored = RowCounts(w.runs, w.runs * w.params, w.runs * w.metrics)
    want_returned = RowCounts(n, n * w.params, n * w.metrics)
    if stored != want_stored or returned != want_returned:
        # A bug in the benchmark or the tool, not bad input: a comparison of unequal work would be a lie.
        raise RuntimeError(
            f"{tool} did not do the workload: it stored {stored} (expected {want_stored}) and its searches "
            f"returned {returned} (expected {want_returned})."
        )


# -- the two tools -------------------------------------------------------------------------------------------


class _CtmlSide:
    tool = "ctml"

    def __init__(self) -> None:
        from ctml import __version__

        self.version = __version__
        self._meta: MetaStore | None = None
        self._tracker: Tracker | None = None

    def open(self, folder: Path) -> Path:
        database = folder / "meta.db"
        self._meta = open_meta(f"sqlite:///{database}")
        self._tracker = Tracker(self._meta, actor="bench")
        return database

    def write(self, runs: Sequence[_RunData]) -> None:
        tracker = self._tracker
        assert tracker is not None
        for run in runs:
            active = tracker.start_run(run.name, app=_APP, capture=False)
            active.log_batch(
                params=run.params,
                metrics=[Metric(key, value, 0, run.at_ms) for key, value in run.metrics.items()],
                tags=run.tags,
            )
            active.finish()

    def query(self, filters: Sequence[str], limit: int) -> list[Any]:
        tracker = self._tracker
        assert tracker is not None
        return [tracker.search_runs(f, app=_APP, limit=limit) for f in filters]

    def count(self, found: list[Any]) -> RowCounts:
        runs = [run for batch in found for run in batch]
        return RowCounts(len(runs), sum(len(r.params) for r in runs), sum(len(r.metrics) for r in runs))

    def close(self) -> None:
        if self._meta is not None:
            self._meta.close()
            self._meta = self._tracker = None


class _MlflowSide:
    tool = "mlflow"

    def __init__(self) -> None:
        try:
            import mlflow
            from mlflow import entities
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise MissingExtraError("bench", "Comparing with MLflow", "mlflow") from None
        self.version: str = mlflow.__version__
        self._entities: Any = entities
        self._client_type: Any = MlflowClient
        self._client: Any = None
        self._experiment = ""

    def open(self, folder: Path) -> Path:
        database = folder / "mlflow.db"
        self._client = self._client_type(tracking_uri=f"sqlite:///{database}")
        # The first call creates the tables and runs MLflow's migrations: setup, not workload.
        self._experiment = self._client.create_experiment(_APP, artifact_location=(folder / "artifacts").as_uri())
        return database

    def write(self, runs: Sequence[_RunData]) -> None:
        client, entities = self._client, self._entities
        for run in runs:
            run_id = client.create_run(self._experiment, run_name=run.name).info.run_id
            client.log_batch(
                run_id,
                metrics=[entities.Metric(key, value, run.at_ms, 0) for key, value in run.metrics.items()],
                params=[entities.Param(key, value) for key, value in run.params.items()],
                tags=[entities.RunTag(key, value) for key, value in run.tags.items()],
            )
            client.set_terminated(run_id)

    def query(self, filters: Sequence[str], limit: int) -> list[Any]:
        return [self._client.search_runs([self._experiment], f, max_results=limit) for f in filters]

    def count(self, found: list[Any]) -> RowCounts:
        runs = [run for batch in found for run in batch]
        return RowCounts(len(runs), sum(len(r.data.params) for r in runs), sum(len(r.data.metrics) for r in runs))

    def close(self) -> None:
        self._client = None


@contextlib.contextmanager
def _no_mlflow_telemetry() -> Iterator[None]:
    """MLflow reads this when imported and before each event: no network call is timed against it."""
    before = os.environ.get("MLFLOW_DISABLE_TELEMETRY")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_DISABLE_TELEMETRY", None)
        else:
            os.environ["MLFLOW_DISABLE_TELEMETRY"] = before


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """No INFO lines ("Creating initial MLflow database tables...") in the middle of the progress display."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
