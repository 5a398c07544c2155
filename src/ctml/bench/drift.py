"""Drift benchmark: ctml's per-column report against Evidently's DataDriftPreset and NannyML's univariate drift.

The workload: a reference and a current table of N rows each (1,000,000 by default), 40
numeric and 10 categorical (text) columns, the current one with drift in 10 numeric and 3 categorical
columns. It is generated once from a seeded RNG and written as Parquet; every tool reads the same files.

What is measured, per tool, in its own fresh subprocess (so peak memory is the tool's alone):

- ``ctml_s``: ``ctml.drift.compare(reference, current)`` on the two Arrow tables: profiling both, the
  automatic test per column, every verdict. ``ctml_profile_s``: ``compare(stored_profile, current)``, the
  reference read from a stored profile (JSON) instead of raw data (loading the JSON is not timed).
- ``evidently_s``: ``Report([DataDriftPreset()]).run(...)`` on the two pandas frames.
- ``nannyml_s``: ``UnivariateDriftCalculator(...).fit(reference).calculate(current)`` with one chunk per
  side (the current window as a whole, as ctml and Evidently see it), default methods, and constant
  thresholds (its default thresholds come from the spread over reference chunks, which one chunk has not).

Reading the Parquet files is not timed for any tool (it is reported as ``*_load_s``); ``time.perf_counter``
brackets the drift computation only. Peak memory is the subprocess's own peak RSS (``VmHWM``; ``ru_maxrss``
would also count the parent's pages at fork), imports and loaded data included. ``data_mb`` is the Arrow
size of both tables in memory.

Evidently 0.7 needs pandas < 3, which clashes with ctml's environment, so each anchor runs in its own
virtual environment under ``~/.cache/ctml-bench/<tool>-venv`` (created with ``python -m venv`` and pip on first
use, reused after). An anchor that cannot be installed is reported as skipped with the reason; one that runs
past ``anchor_timeout_s`` is killed and its time reported as a lower bound.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ctml.bench._drift_scripts import ANCHOR_SCRIPTS, CTML_FULL, CTML_PROFILE
from ctml.errors import ConfigError

__all__ = [
    "ANCHORS",
    "DriftBenchResult",
    "DriftWorkload",
    "ToolRun",
    "bench_drift",
    "make_tables",
    "markdown_section",
]

#: Acceptance targets: ctml's speedup over each anchor, peak memory over data size, profile-mode seconds.
TARGETS = {"evidently": 50.0, "nannyml": 5.0, "memory_ratio": 1.5, "profile_s": 1.0}

#: Anchor tools: the pip requirements of their own virtual environment.
ANCHORS: dict[str, list[str]] = {
    # Evidently 0.7 imports pandas internals that pandas 3 removed, though its metadata allows pandas 3.
    "evidently": ["evidently", "pandas<3", "pyarrow"],
    # NannyML 0.13 imports statsmodels without declaring it.
    "nannyml": ["nannyml", "pandas<3", "statsmodels", "pyarrow"],
}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DriftWorkload:
    rows: int = 1_000_000
    numeric: int = 40
    categorical: int = 10
    drifted_numeric: int = 10
    drifted_categorical: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rows", "numeric", "categorical"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"The {name!r} parameter of DriftWorkload must be an int >= 1. Got {value!r}.")

    @classmethod
    def quick(cls) -> DriftWorkload:
        """A small workload for CI: 20,000 rows a side, 8 numeric and 2 categorical columns."""
        return cls(rows=20_000, numeric=8, categorical=2, drifted_numeric=2, drifted_categorical=1)


@dataclass(frozen=True)
class ToolRun:
    """One tool's run: seconds of the drift computation, or why there is none."""

    tool: str
    seconds: float | None = None
    load_s: float | None = None
    peak_mb: float | None = None
    version: str | None = None
    drifted_columns: int | None = None
    skipped: str | None = None
    timed_out_after_s: float | None = None


@dataclass(frozen=True)
class DriftBenchResult:
    workload: DriftWorkload
    data_mb: float
    ctml: ToolRun
    ctml_profile: ToolRun
    anchors: dict[str, ToolRun]
    method: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def speedup(self, tool: str) -> float | None:
        """The anchor's time over ctml's; a lower bound when the anchor timed out."""
        run = self.anchors.get(tool)
        if run is None or self.ctml.seconds is None or self.ctml.seconds <= 0:
            return None
        theirs = run.seconds if run.seconds is not None else run.timed_out_after_s
        return None if theirs is None else theirs / self.ctml.seconds

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rows": self.workload.rows,
            "numeric_columns": self.workload.numeric,
            "categorical_columns": self.workload.categorical,
            "data_mb": round(self.data_mb, 1),
            "ctml_s": self.ctml.seconds,
            "ctml_profile_s": self.ctml_profile.seconds,
            "ctml_peak_mb": self.ctml.peak_mb,
            "ctml_profile_peak_mb": self.ctml_profile.peak_mb,
            "ctml_drifted_columns": self.ctml.drifted_columns,
            "memory_ratio": None if self.ctml.peak_mb is None else round(self.ctml.peak_mb / self.data_mb, 3),
            "targets": TARGETS,
            "method": self.method,
            "versions": self.versions,
        }
        for tool in ANCHORS:
            run = self.anchors.get(tool, ToolRun(tool, skipped="not run"))
            out[f"{tool}_s"] = run.seconds
            out[f"{tool}_peak_mb"] = run.peak_mb
            out[f"{tool}_version"] = run.version
            out[f"{tool}_drifted_columns"] = run.drifted_columns
            out[f"{tool}_skipped"] = run.skipped
            out[f"{tool}_timed_out_after_s"] = run.timed_out_after_s
            speedup = self.speedup(tool)
            out[f"speedup_vs_{tool}"] = None if speedup is None else round(speedup, 2)
            out[f"speedup_vs_{tool}_is_lower_bound"] = run.seconds is None and run.timed_out_after_s is not None
        return out


def make_tables(workload: DriftWorkload) -> tuple[pa.Table, pa.Table]:
    """Reference and current tables from one seeded RNG; drift in the first few columns of each kind."""
    rng = np.random.default_rng(workload.seed)
    ref: dict[str, pa.Array] = {}
    cur: dict[str, pa.Array] = {}
    n = workload.rows
    for j in range(workload.numeric):
        shift = 0.25 if j < workload.drifted_numeric else 0.0
        shape = j % 4
        for side, delta in ((ref, 0.0), (cur, shift)):
            if shape == 0:
                values = rng.normal(delta, 1.0, n)
            elif shape == 1:
                values = rng.lognormal(delta, 0.75, n)
            elif shape == 2:
                values = rng.uniform(delta, 1.0 + delta, n)
            else:
                values = rng.gamma(2.0 + delta * 4, 1.0, n)
            side[f"num_{j:02d}"] = pa.array(values)
    for j in range(workload.categorical):
        size = 3 + (j * 7) % 20
        vocabulary = pa.array([f"cat{j}_{v}" for v in range(size)])
        base = np.linspace(2.0, 1.0, size)
        for side, tilt in ((ref, 0.0), (cur, 1.5 if j < workload.drifted_categorical else 0.0)):
            weights = base + tilt * np.linspace(0.0, 1.0, size)
            codes = rng.choice(size, size=n, p=weights / weights.sum()).astype(np.int32)
            side[f"cat_{j:02d}"] = pa.DictionaryArray.from_arrays(pa.array(codes), vocabulary).cast(pa.string())
    return pa.table(ref), pa.table(cur)


def bench_drift(
    workload: DriftWorkload,
    *,
    anchors: tuple[str, ...] = ("evidently", "nannyml"),
    anchor_timeout_s: float = 900.0,
    install: bool = True,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> DriftBenchResult:
    """Generate the data, then run ctml (raw and from a stored profile) and each anchor in a subprocess."""
    report = progress or (lambda what: None)
    cache = cache_dir or Path.home() / ".cache" / "ctml-bench"
    with tempfile.TemporaryDirectory(prefix="ctml-bench-drift-") as folder:
        work = Path(folder)
        report(f"generating {workload.rows:,} rows x {workload.numeric + workload.categorical} columns a side")
        reference, current = make_tables(workload)
        data_mb = (reference.nbytes + current.nbytes) / 2**20
        for name, table in (("reference", reference), ("current", current)):
            pq.write_table(table, work / f"{name}.parquet", row_group_size=max(workload.rows, 1))
        del reference, current
        report("ctml: full report from raw reference and current")
        ctml_run = _run_tool("ctml", sys.executable, CTML_FULL, work, anchor_timeout_s)
        report("ctml: current window against the stored reference profile")
        profile_run = _run_tool("ctml", sys.executable, CTML_PROFILE, work, anchor_timeout_s)
        runs: dict[str, ToolRun] = {}
        for tool in anchors:
            report(f"{tool}: preparing its environment")
            python, why = _anchor_python(tool, cache, install)
            if python is None:
                runs[tool] = ToolRun(tool, skipped=why)
                continue
            report(f"{tool}: running (timeout {anchor_timeout_s:.0f} s)")
            runs[tool] = _run_tool(tool, python, ANCHOR_SCRIPTS[tool], work, anchor_timeout_s)
    versions = {"python": platform.python_version(), "numpy": np.__version__, "pyarrow": pa.__version__}
    versions["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs"
    return DriftBenchResult(
        workload=workload,
        data_mb=data_mb,
        ctml=ctml_run,
        ctml_profile=profile_run,
        anchors=runs,
        method=_METHOD,
        versions=versions,
    )


_METHOD = {
    "data": "seeded; written once as Parquet and read by every tool in its own subprocess",
    "timed": "the drift computation only (time.perf_counter); reading Parquet is reported apart",
    "memory": "peak RSS of each tool's subprocess (VmHWM), imports and loaded data included",
    "ctml": "compare(reference, current): profiles both sides, automatic test per column",
    "ctml_profile": "compare(stored reference profile, current window); the JSON is loaded before the timer",
    "evidently": "Report([DataDriftPreset()]).run(current, reference) on pandas frames",
    "nannyml": "UnivariateDriftCalculator(all columns, one chunk a side, default methods, constant thresholds)"
    ".fit(reference).calculate(current)",
}


def _anchor_python(tool: str, cache: Path, install: bool) -> tuple[str | None, str]:
    """A Python with ``tool`` importable: ours if it has it, else its own cached venv (made if allowed)."""
    if _imports(sys.executable, tool):
        return sys.executable, ""
    venv = cache / f"{tool}-venv"
    python = venv / "bin" / "python"
    if python.exists() and _imports(str(python), tool):
        return str(python), ""
    if not install:
        return None, f"{tool} is not installed and --no-install was given"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *ANCHORS[tool], "psutil"],
            check=False,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not create {venv}: {exc}"
    if done.returncode != 0 or not _imports(str(python), tool):
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return None, f"pip install {' '.join(ANCHORS[tool])} failed in {venv}: {tail[:400]}"
    return str(python), ""


def _imports(python: str, module: str) -> bool:
    try:
        found = subprocess.run([python, "-c", f"import {module}"], check=False, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return False
    return found.returncode == 0


def _run_tool(tool: str, python: str, script: str, work: Path, timeout_s: float) -> ToolRun:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "DO_NOT_TRACK": "1", "NML_DISABLE_USAGE_LOGGING": "1"}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [python, "-c", textwrap.dedent(script), str(work)],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return ToolRun(tool, skipped=f"killed after {timeout_s:.0f} s", timed_out_after_s=time.perf_counter() - started)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        return ToolRun(tool, skipped=f"failed (exit {done.returncode}): {tail[:400]}")
    found = json.loads(lines[-1])
    return ToolRun(
        tool,
        seconds=found["seconds"],
        load_s=found.get("load_s"),
        peak_mb=found.get("peak_mb"),
        version=found.get("version"),
        drifted_columns=found.get("drifted"),
    )


MARK_START = "<!-- ctml bench drift: start -->"
MARK_END = "<!-- ctml bench drift: end -->"


def markdown_section(result: DriftBenchResult, command: str) -> str:
    """The drift section of docs/benchmarks.md, between its markers."""
    w = result.workload

    def secs(run: ToolRun) -> str:
        if run.seconds is not None:
            return f"{run.seconds:.2f} s"
        if run.timed_out_after_s is not None:
            return f"> {run.timed_out_after_s:.0f} s (killed)"
        return f"not measured ({run.skipped})"

    def mb(value: float | None) -> str:
        return "" if value is None else f"{value:,.0f} MB"

    rows = [
        ("ctml, raw reference", result.ctml, ""),
        ("ctml, stored reference profile", result.ctml_profile, ""),
    ]
    for tool, run in result.anchors.items():
        speedup = result.speedup(tool)
        bound = ">= " if run.seconds is None and run.timed_out_after_s is not None else ""
        rows.append((f"{tool} {run.version or ''}".strip(), run, "" if speedup is None else f"{bound}{speedup:.1f}x"))
    lines = [
        MARK_START,
        "## Drift report: ctml vs Evidently and NannyML",
        "",
        f"Produced by `{command}`; do not edit by hand. {w.rows:,} rows a side, {w.numeric} numeric and "
        f"{w.categorical} text columns ({w.drifted_numeric} and {w.drifted_categorical} of them drifted), "
        f"{result.data_mb:,.0f} MB in memory for both tables; {result.versions.get('machine', '')}.",
        "",
        "| tool | drift computation | peak RSS | drifted columns found | ctml speedup |",
        "|---|---|---|---|---|",
    ]
    for name, run, ratio in rows:
        found = "" if run.drifted_columns is None else str(run.drifted_columns)
        lines.append(f"| {name} | {secs(run)} | {mb(run.peak_mb)} | {found} | {ratio} |")
    lines.append("")
    lines.extend(f"- {key}: {text}" for key, text in result.method.items())
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"
