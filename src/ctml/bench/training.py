"""Training strategies on real streams: which way of retraining keeps a model accurate, and at what cost?

Protocol (prequential, test-then-train): a model is trained on the first 10% of a stream's rows; the rest is
walked in windows of ``rows / 20``; each window is predicted by the current model, and then the model is
retrained with the strategy on every row seen so far (the strategy picks its rows: all of them, the newest
ones, the champion plus new rows, ...). Accuracy (MAE for regression) is scored on the rows predicted after the
first retrain, so the window every strategy predicts with the same first model is left out. Training seconds
add up every ``train(...)`` call, the first included; prediction time is not counted.

Strategies per run: ``full_history``; ``sliding_window`` over the last 20% of the stream's rows;
``warm_start`` from the champion on all rows seen; ``incremental`` (the champion learns only the new window);
``fine_tune`` from the champion on the newest window. A strategy runs on a flavor only where it applies
(:func:`ctml.train.supports`); River's warm start and fine-tune re-learn rows it has already learned, so they
are left out for it.

>>> bench = TrainingBench.tiny(datasets=("toy",), flavors=("sklearn",))
>>> rows = bench_training(bench, streams={"toy": _toy_stream()})
>>> [(r.strategy, r.retrains, r.rows_scored) for r in rows]  # doctest: +NORMALIZE_WHITESPACE
[('full_history', 4, 210), ('sliding_window', 4, 210), ('warm_start', 4, 210), ('incremental', 4, 210),
 ('fine_tune', 4, 210)]
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ctml.bench._markdown import write_section
from ctml.clock import Clock, WallClock
from ctml.errors import ConfigError
from ctml.evaluate import accuracy, mae
from ctml.flavors import Model
from ctml.train import (
    FineTune,
    FullHistory,
    Incremental,
    SlidingWindow,
    Strategy,
    TrainingData,
    WarmStart,
    supports,
    train,
)

__all__ = [
    "DATASETS",
    "FLAVORS",
    "MARK_END",
    "MARK_START",
    "BenchRow",
    "Stream",
    "TrainingBench",
    "bench_training",
    "find_datasets",
    "load_stream",
    "markdown_section",
    "write_section",
]

MARK_START = "<!-- ctml bench training: start -->"
MARK_END = "<!-- ctml bench training: end -->"
DATASETS = ("elec2", "spam", "bike_sharing_hourly")
FLAVORS = ("sklearn", "lightgbm", "xgboost", "river", "torch")
_STRATEGIES = ("full_history", "sliding_window", "warm_start", "incremental", "fine_tune")
_RIVER_SKIPS = frozenset({"warm_start", "fine_tune"})


@dataclass(frozen=True, eq=False)
class Stream:
    """One dataset in stream order: the training data, its task and where it came from."""

    name: str
    data: TrainingData
    task: str
    source: str


@dataclass(frozen=True)
class TrainingBench:
    """What to run: datasets, flavors, the share of rows trained on first, how many windows, a row cap."""

    datasets: tuple[str, ...] = DATASETS
    flavors: tuple[str, ...] = FLAVORS
    strategies: tuple[str, ...] = _STRATEGIES
    initial: float = 0.1
    windows: int = 20
    max_rows: int | None = None
    seed: int = 0
    small_models: bool = False
    caps: dict[str, int] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> TrainingBench:
        """Ends in well under a minute: the first 3,000 rows of each stream, 6 windows, small models."""
        return cls(flavors=("sklearn", "lightgbm", "river", "torch"), windows=6, max_rows=3000, small_models=True)

    @classmethod
    def tiny(cls, **changes: Any) -> TrainingBench:
        """For tests: 300 rows, 5 windows, small models."""
        return cls(**{"windows": 5, "max_rows": 300, "small_models": True, **changes})

    def rows_for(self, dataset: str) -> int | None:
        return self.caps.get(dataset, self.max_rows)


@dataclass(frozen=True)
class BenchRow:
    dataset: str
    task: str
    flavor: str
    strategy: str
    rows_scored: int
    metric: str
    value: float
    retrains: int
    refused: int
    train_seconds: float


def find_datasets(start: Path | None = None) -> Path | None:
    """``shared/datasets`` beside the working folder or any of its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for candidate in (folder / "shared" / "datasets", folder / ".." / "shared" / "datasets"):
            if (candidate / "elec2" / "elec2.csv").is_file():
                return candidate.resolve()
    return None


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def load_stream(root: Path, name: str, max_rows: int | None = None) -> Stream:
    """elec2 (UP/DOWN), spam (0/1, 499 word features) or bike_sharing_hourly (rentals per hour), in time order."""
    if name == "elec2":
        header, rows = _read_csv(root / "elec2" / "elec2.csv")
        rows = rows[:max_rows]
        X = np.asarray([r[:8] for r in rows], dtype=np.float64)
        y = np.asarray([r[8] for r in rows])
        time = np.arange(len(rows)) * 1800.0  # one row every 30 minutes
        return Stream(name, TrainingData(X, y, header[:8], time), "classification", "elec2/elec2.csv")
    if name == "spam":
        header, rows = _read_csv(root / "spam" / "spam.csv.gz")
        rows = rows[:max_rows]
        data = np.asarray(rows, dtype=np.float64)
        y = data[:, -1].astype(np.int64)
        return Stream(name, TrainingData(data[:, :-1], y, header[:-1]), "classification", "spam/spam.csv.gz")
    if name == "bike_sharing_hourly":
        header, rows = _read_csv(root / "bike_sharing_hourly" / "bike_sharing_hourly.csv")
        rows = rows[:max_rows]
        drop = {"instant", "dteday", "casual", "registered", "cnt"}  # casual + registered == cnt: leakage
        keep = [i for i, h in enumerate(header) if h not in drop]
        X = np.asarray([[r[i] for i in keep] for r in rows], dtype=np.float64)
        y = np.asarray([r[header.index("cnt")] for r in rows], dtype=np.float64)
        day, hour = header.index("dteday"), header.index("hr")
        days = [datetime.fromisoformat(r[day]).replace(tzinfo=UTC).timestamp() for r in rows]
        time = np.asarray(days) + 3600.0 * np.asarray([int(r[hour]) for r in rows])
        names = [header[i] for i in keep]
        source = "bike_sharing_hourly/bike_sharing_hourly.csv"
        return Stream(name, TrainingData(X, y, names, time), "regression", source)
    raise ConfigError(f"Unknown stream {name!r}. Expected one of {', '.join(DATASETS)}.")


def estimator(flavor: str, task: str, small: bool) -> Any:
    """The model each flavor trains: one setting per flavor and task, shared by every strategy."""
    regression = task == "regression"
    if flavor == "sklearn":
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        return SGDRegressor(warm_start=True) if regression else SGDClassifier(loss="log_loss", warm_start=True)
    if flavor in ("lightgbm", "xgboost"):
        rounds = 20 if small else 50
        if flavor == "lightgbm":
            import lightgbm

            kind = lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier
            return kind(n_estimators=rounds, num_leaves=15, n_jobs=1, verbose=-1)
        import xgboost

        xkind = xgboost.XGBRegressor if regression else xgboost.XGBClassifier
        return xkind(n_estimators=rounds, max_depth=4, n_jobs=1, tree_method="hist")
    if flavor == "river":
        from river import linear_model, preprocessing, tree

        if regression:
            return tree.HoeffdingTreeRegressor()
        return preprocessing.StandardScaler() | linear_model.LogisticRegression()
    if flavor == "torch":
        from ctml.flavors import TorchTabular

        return TorchTabular(hidden=(32, 16), epochs=2 if small else 4, batch_size=256, task=task)  # type: ignore[arg-type]
    raise ConfigError(f"Unknown flavor {flavor!r}. Expected one of {', '.join(FLAVORS)}.")


def _strategy(name: str, rows: int, window: int) -> Strategy:
    if name == "full_history":
        return FullHistory()
    if name == "sliding_window":
        return SlidingWindow(rows=max(1, rows // 5))
    if name == "warm_start":
        return WarmStart()
    if name == "incremental":
        return Incremental()
    if name == "fine_tune":
        return FineTune(rows=window)
    raise ConfigError(f"Unknown strategy {name!r}. Expected one of {', '.join(_STRATEGIES)}.")


def run_stream(
    stream: Stream, flavor: str, strategy_name: str, bench: TrainingBench, clock: Clock | None = None
) -> BenchRow | None:
    """One flavor and strategy over one stream, test-then-train; ``None`` where the strategy does not apply."""
    data = stream.data
    n = data.rows
    first = max(2, int(n * bench.initial))
    window = max(1, n // bench.windows)
    strategy = _strategy(strategy_name, n, window)
    model_spec = estimator(flavor, stream.task, bench.small_models)
    if not supports(strategy, model_spec) or (flavor == "river" and strategy_name in _RIVER_SKIPS):
        return None
    clock = clock or WallClock()
    result = train(strategy, model_spec, data.slice(0, first), seed=bench.seed, clock=clock)
    model: Model = result.model
    seconds = result.seconds
    retrains = refused = 0
    seen = first
    truth: list[np.ndarray] = []
    predicted: list[np.ndarray] = []
    for start in range(first, n, window):
        stop = min(n, start + window)
        if start > first:
            truth.append(data.y[start:stop])
            predicted.append(model.predict(data.X[start:stop]))
        if stop < n:
            try:
                result = train(
                    strategy, model_spec, data.slice(0, stop), champion=model, seed=bench.seed, seen=seen, clock=clock
                )
            except ConfigError:
                refused += 1  # e.g. a window of one class: the champion stays, as it would in production
                continue
            model, seconds, retrains, seen = result.model, seconds + result.seconds, retrains + 1, stop
    y, p = np.concatenate(truth), np.concatenate(predicted)
    metric, value = ("mae", mae(y, p)) if stream.task == "regression" else ("accuracy", accuracy(y, p))
    return BenchRow(stream.name, stream.task, flavor, strategy_name, len(y), metric, value, retrains, refused, seconds)


def bench_training(
    bench: TrainingBench,
    *,
    root: Path | None = None,
    streams: dict[str, Stream] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """Every dataset x flavor x strategy of ``bench`` that applies, in that order (torch on one thread)."""
    with _one_torch_thread(enabled="torch" in bench.flavors):
        return _bench(bench, root, streams, progress)


@contextmanager
def _one_torch_thread(enabled: bool) -> Iterator[None]:
    if not enabled or importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _bench(
    bench: TrainingBench,
    root: Path | None,
    streams: dict[str, Stream] | None,
    progress: Callable[[str], None] | None,
) -> list[BenchRow]:
    rows: list[BenchRow] = []
    for name in bench.datasets:
        stream = (streams or {}).get(name)
        if stream is None:
            if root is None:
                raise ConfigError("bench_training needs root= (the shared/datasets folder) or streams=.")
            stream = load_stream(root, name, bench.rows_for(name))
        for flavor in bench.flavors:
            for strategy in bench.strategies:
                if progress is not None:
                    progress(f"{name} {flavor} {strategy}")
                row = run_stream(stream, flavor, strategy, bench)
                if row is not None:
                    rows.append(row)
    return rows


def markdown_section(rows: Sequence[BenchRow], bench: TrainingBench, command: str) -> str:
    """The section of docs/benchmarks.md between its markers."""
    cap = "all rows" if bench.max_rows is None else f"the first {bench.max_rows:,} rows"
    lines = [
        MARK_START,
        "## Training strategies on real streams",
        "",
        f"Produced by `{command}`; do not edit by hand. Streams from `shared/datasets` in time order ({cap}):",
        "elec2 (45,312 rows, UP/DOWN), spam (6,213 e-mails, 499 word features), bike_sharing_hourly (17,379 hours,",
        "rentals per hour; `casual` and `registered` dropped as leakage).",
        "",
        f"Protocol (test-then-train): train on the first {bench.initial:.0%} of the rows, then walk the rest in "
        f"windows of rows/{bench.windows};",
        "predict each window with the current model, then retrain with the strategy on every row seen so far.",
        "Scored: the rows predicted after the first retrain. Training seconds: every `train(...)` call (the first",
        "included), on one core per library (`n_jobs=1`, one torch thread), on a shared 2-core machine.",
        "Strategies: full history; sliding window = the last 20% of the stream's rows; warm start = the champion",
        "continued on every row seen; incremental = the champion learns the new window only (`partial_fit`);",
        "fine-tune = the champion continued on the newest window. Models, one per flavor and task, the same for",
        "every strategy: sklearn `SGDClassifier(log_loss)` / `SGDRegressor`; LightGBM and XGBoost 50 rounds",
        "(15 leaves / depth 4; warm starts and fine-tunes add 50 rounds per retrain); River `StandardScaler |",
        "LogisticRegression` / `HoeffdingTreeRegressor`; torch `TorchTabular(hidden=(32, 16), epochs=4)`.",
        "A strategy is run only where it applies (`ctml.train.supports`); River's warm start and fine-tune would",
        "re-learn rows it already learned, so they are left out. A retrain that `train` refuses (a window holding",
        "one class only, where a fresh fit or scikit-learn's warm start cannot learn) keeps the champion and is",
        "counted in parentheses.",
        "",
        "| dataset | flavor | strategy | rows scored | accuracy / MAE | retrains (refused) | training seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = f"{r.value:.4f}" if r.metric == "accuracy" else f"MAE {r.value:.1f}"
        lines.append(
            f"| {r.dataset} | {r.flavor} | {r.strategy} | {r.rows_scored:,} | {value} | {r.retrains}"
            f"{f' ({r.refused})' if r.refused else ''} | "
            f"{r.train_seconds:.2f} |"
        )
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


def _toy_stream() -> Stream:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + np.linspace(-1, 1, 300) > 0).astype(np.int64)
    return Stream("toy", TrainingData(X, y, ["a", "b", "c"]), "classification", "generated")
