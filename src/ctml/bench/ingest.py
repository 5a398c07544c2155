"""``ctml bench ingest``: ctml's CSV ingest against pandas and pyarrow on the same generated file.

The workload is one generated CSV (ids, timestamps, floats, small integers, a category) of ``file_mb``
megabytes. Each contender turns it into Parquet, in a fresh subprocess so that its peak memory (``ru_maxrss``,
which includes the interpreter and its imports) is its own:

- ctml: ``Datasets.ingest`` of a ``FileSource`` into a fresh SQLite + local artifact store: streaming read,
  content digest, profile and Parquet (zstd), then the artifact put and the version commit;
- pandas: ``pandas.read_csv`` + ``DataFrame.to_parquet`` (pyarrow engine), the common way;
- pyarrow: ``pyarrow.csv.read_csv`` + ``pyarrow.parquet.write_table``, the same job with pyarrow's own
  reader; its read alone is reported as ``pyarrow_read_rows_per_s``.

Only the conversion is timed (``time.perf_counter`` inside the subprocess), not the start-up or imports.
ctml is measured again on a file a quarter the size, to show its peak memory does not grow with the file.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ctml.errors import MissingExtraError
from ctml.types import JSON

__all__ = ["GOALS", "IngestBench", "IngestResult", "Measurement", "bench_ingest", "generate_csv", "measure"]

GOALS = {"vs_pandas": 3.0, "vs_pyarrow": 1.5, "memory_growth": 1.25}
"""ctml at least 3x pandas' rows/s, at most 1.5x slower than pyarrow, peak memory within 25% at 4x the file."""

Progress = Callable[[str], None]
_CONTENDERS = ("ctml", "pandas", "pyarrow", "pyarrow_read")


@dataclass(frozen=True)
class IngestBench:
    file_mb: int = 2048
    seed: int = 7

    @classmethod
    def quick(cls) -> IngestBench:
        return cls(file_mb=24)


@dataclass(frozen=True)
class Measurement:
    contender: str
    rows: int
    seconds: float
    peak_mb: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class IngestResult:
    file_mb: float
    rows: int
    measurements: dict[str, Measurement]
    ctml_quarter: Measurement

    def rate(self, contender: str) -> float:
        found = self.measurements.get(contender)
        return 0.0 if found is None else found.rows_per_s

    @property
    def vs_pandas(self) -> float:
        return self.rate("ctml") / self.rate("pandas") if self.rate("pandas") else 0.0

    @property
    def pyarrow_slowdown(self) -> float:
        """How many times slower ctml is than pyarrow's read + write (1.0 = as fast)."""
        return self.rate("pyarrow") / self.rate("ctml") if self.rate("ctml") else float("inf")

    @property
    def memory_growth(self) -> float:
        return self.measurements["ctml"].peak_mb / self.ctml_quarter.peak_mb if self.ctml_quarter.peak_mb else 0.0

    @property
    def meets_goals(self) -> bool:
        return (
            self.vs_pandas >= GOALS["vs_pandas"]
            and self.pyarrow_slowdown <= GOALS["vs_pyarrow"]
            and self.memory_growth <= GOALS["memory_growth"]
        )

    def as_dict(self) -> dict[str, JSON]:
        found: dict[str, JSON] = {
            "file_mb": round(self.file_mb, 1),
            "rows": self.rows,
            "ctml_rows_per_s": round(self.rate("ctml")),
            "pandas_rows_per_s": round(self.rate("pandas")),
            "pyarrow_rows_per_s": round(self.rate("pyarrow")),
            "pyarrow_read_rows_per_s": round(self.rate("pyarrow_read")),
            "ctml_peak_mb": round(self.measurements["ctml"].peak_mb, 1),
            "pandas_peak_mb": round(self.measurements["pandas"].peak_mb, 1),
            "pyarrow_peak_mb": round(self.measurements["pyarrow"].peak_mb, 1),
            "ctml_quarter_file_peak_mb": round(self.ctml_quarter.peak_mb, 1),
            "ctml_vs_pandas": round(self.vs_pandas, 2),
            "ctml_slowdown_vs_pyarrow": round(self.pyarrow_slowdown, 2),
            "ctml_memory_growth_4x_file": round(self.memory_growth, 2),
            "goals": dict(GOALS),
            "meets_goals": self.meets_goals,
            "seconds": {name: round(m.seconds, 3) for name, m in self.measurements.items()},
        }
        return found


def generate_csv(path: Path, file_mb: float, seed: int = 7) -> int:
    """Write a CSV of about ``file_mb`` megabytes; returns its rows. Same seed, same bytes."""
    rng = np.random.default_rng(seed)
    target = int(file_mb * (1 << 20))
    rows = 0
    start = np.datetime64("2024-01-01T00:00:00", "s")
    categories = np.array(["north", "south", "east", "west", "central"])
    with pa.OSFile(str(path), "wb") as sink:
        writer: pacsv.CSVWriter | None = None
        while sink.tell() < target:
            n = 200_000
            index = np.arange(rows, rows + n, dtype=np.int64)
            table = pa.table(
                {
                    "id": index,
                    "ts": pa.array(start + index, pa.timestamp("s")),
                    "price": np.round(rng.gamma(2.0, 50.0, n), 4),
                    "demand": np.round(rng.normal(1000.0, 150.0, n), 3),
                    "ratio": np.round(rng.random(n), 6),
                    "units": rng.integers(0, 500, n),
                    "weekday": rng.integers(1, 8, n),
                    "region": categories[rng.integers(0, len(categories), n)],
                    "label": rng.integers(0, 2, n),
                }
            )
            if writer is None:
                writer = pacsv.CSVWriter(sink, table.schema)
            writer.write_table(table)
            rows += n
        if writer is not None:
            writer.close()
    return rows


def measure(contender: str, csv_path: Path, work: Path) -> Measurement:
    """Run one contender in a fresh interpreter and read back its timing and peak memory."""
    code = f"from ctml.bench.ingest import _child; _child({contender!r}, {str(csv_path)!r}, {str(work)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"The {contender} contender failed:\n{done.stderr.strip()[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return Measurement(contender, int(found["rows"]), float(found["seconds"]), float(found["peak_mb"]))


def bench_ingest(workload: IngestBench | None = None, *, progress: Progress | None = None) -> IngestResult:
    if importlib.util.find_spec("pandas") is None:
        raise MissingExtraError("bench", "The pandas baseline of `ctml bench ingest`", "pandas")
    workload = workload or IngestBench()
    say = progress or (lambda _: None)
    with tempfile.TemporaryDirectory(prefix="ctml-bench-ingest-") as folder:
        root = Path(folder)
        big, small = root / "big.csv", root / "quarter.csv"
        say(f"generating a {workload.file_mb} MB CSV")
        rows = generate_csv(big, workload.file_mb, workload.seed)
        generate_csv(small, workload.file_mb / 4, workload.seed)
        measurements = {}
        for contender in _CONTENDERS:
            say(f"measuring {contender}")
            work = root / f"work-{contender}"
            work.mkdir()
            measurements[contender] = measure(contender, big, work)
        say("measuring ctml on a quarter-size file")
        quarter_work = root / "work-quarter"
        quarter_work.mkdir()
        quarter = measure("ctml", small, quarter_work)
        file_mb = big.stat().st_size / (1 << 20)
    return IngestResult(file_mb, rows, measurements, quarter)


def _child(contender: str, csv_path: str, work: str) -> None:  # pragma: no cover - runs in a subprocess
    """The body of one measurement; prints one JSON line."""
    import resource
    import time

    out = Path(work) / "out.parquet"
    if contender == "ctml":
        from ctml.data import Datasets, FileSource
        from ctml.meta import open_meta
        from ctml.store import open_store

        datasets = Datasets(open_meta(f"sqlite:///{work}/meta.db"), open_store(f"{work}/artifacts"))
        source = FileSource(csv_path)
        began = time.perf_counter()
        result = datasets.ingest("bench", source)
        seconds = time.perf_counter() - began
        rows = sum(v.rows for v in result.versions)
    elif contender == "pandas":
        pd = importlib.import_module("pandas")  # an optional dependency, here for comparison only
        began = time.perf_counter()
        frame = pd.read_csv(csv_path)
        frame.to_parquet(out, engine="pyarrow", compression="zstd")
        seconds = time.perf_counter() - began
        rows = len(frame)
    else:
        import pyarrow.parquet as pq

        began = time.perf_counter()
        table = pacsv.read_csv(csv_path)
        if contender == "pyarrow":
            pq.write_table(table, out, compression="zstd")
        seconds = time.perf_counter() - began
        rows = table.num_rows
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak_mb}) + "\n")
    sys.stdout.flush()
