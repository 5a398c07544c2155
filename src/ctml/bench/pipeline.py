"""``ctml bench pipeline``: the engine's cost per step, and a fan-out on every executor, in one command.

- Step overhead: a generated chain of no-op steps (each returns its input) run inline on a fresh SQLite
  metadata store and a local artifact store, so every step is planned, fingerprinted, recorded, its output
  stored and its row finished. The cost per step is the slope between a short and a long chain,
  ``(T(long) - T(short)) / (long - short)``, which leaves out what a run costs once (its row, the
  environment capture, the git lookup).
- Fan-out: one step mapped over ``fanout`` partitions, each a small training (a seeded logistic regression
  on a few hundred rows), then a gather, run inline, on the process pool and on a local Ray cluster
  started on loopback for the measurement. The speed-up is the inline time over each executor's. Each task
  gets one native (BLAS/OpenMP) thread everywhere — inline too, under ``threadpool_limits(1)``, since Ray and
  the process pool give each worker its share of the CPUs — so the speed-up is from tasks running side by side,
  not from a difference in threading (a default two-thread BLAS on small matrices can be several times slower
  on a busy machine).
- The anchor: the same no-op chain as a Metaflow flow (``python flow.py run``, local datastore and metadata),
  with the bench extra; its cost per step is the same slope. A Metaflow step runs in a subprocess of its own,
  so the ratio says what in-process recording saves, not that Metaflow is slow at what it is built for.

Everything is timed with ``time.perf_counter`` around the run alone, in fresh temporary folders under TMPDIR.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ctml.exec import Executor, InlineExecutor, LocalRayCluster, ProcessExecutor, RayExecutor
from ctml.meta import open_meta
from ctml.store import open_store
from ctml.types import JSON

__all__ = ["GOALS", "PipelineBench", "PipelineResult", "bench_pipeline"]

GOALS = {"step_overhead_ms": 2.0}
"""At most 2 ms of engine overhead per no-op step, inline."""

Progress = Callable[[str], None]
_MODULE = "ctml_bench_chain"


@dataclass(frozen=True)
class PipelineBench:
    short_chain: int = 20
    long_chain: int = 220
    fanout: int = 1000
    rows: int = 2000
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    anchor_short: int = 3
    anchor_long: int = 11
    ray: bool = True
    anchor: bool = True

    @classmethod
    def quick(cls) -> PipelineBench:
        return cls(short_chain=10, long_chain=60, fanout=100, anchor_short=2, anchor_long=5)


@dataclass(frozen=True)
class PipelineResult:
    workload: PipelineBench
    step_overhead_ms: float
    fanout_s: dict[str, float | None]
    anchor: str | None
    anchor_step_overhead_ms: float | None
    notes: list[str]

    def speedup(self, executor: str) -> float | None:
        other = self.fanout_s.get(executor)
        return None if other is None else self.fanout_s["inline"] / other  # type: ignore[operator]

    @property
    def anchor_ratio(self) -> float | None:
        if self.anchor_step_overhead_ms is None:
            return None
        return self.anchor_step_overhead_ms / self.step_overhead_ms

    @property
    def meets_goals(self) -> bool:
        return self.step_overhead_ms <= GOALS["step_overhead_ms"]

    def as_dict(self) -> dict[str, JSON]:
        w = self.workload
        return {
            "step_overhead_ms": round(self.step_overhead_ms, 4),
            "chain_steps": [w.short_chain, w.long_chain],
            "fanout": w.fanout,
            "fanout_rows": w.rows,
            "workers": w.workers,
            "fanout_inline_s": _round(self.fanout_s["inline"]),
            "fanout_process_s": _round(self.fanout_s.get("process")),
            "fanout_ray_s": _round(self.fanout_s.get("ray")),
            "speedup_process": _round(self.speedup("process")),
            "speedup_ray": _round(self.speedup("ray")),
            "anchor": self.anchor,
            "anchor_step_overhead_ms": _round(self.anchor_step_overhead_ms),
            "anchor_ratio": _round(self.anchor_ratio),
            "goals": dict(GOALS),
            "meets_goals": self.meets_goals,
            "notes": list(self.notes),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def bench_pipeline(workload: PipelineBench | None = None, *, progress: Progress | None = None) -> PipelineResult:
    w = workload or PipelineBench()
    say = progress or (lambda _: None)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ctml-bench-pipeline-") as folder:
        work = Path(folder)
        say(f"no-op chains of {w.short_chain} and {w.long_chain} steps, inline")
        overhead = _slope(_time_chain(work, w.short_chain), _time_chain(work, w.long_chain), w)
        fanout: dict[str, float | None] = {}
        say(f"{w.fanout}-way fan-out, inline")
        from threadpoolctl import threadpool_limits

        from ctml.bench._pipeline_flows import warm_up

        warm_up(0)  # loads the native libraries first: a limit applies to those loaded when it is set
        with threadpool_limits(1):
            fanout["inline"] = _time_fanout(work / "inline", InlineExecutor(), w)
        say(f"{w.fanout}-way fan-out, process pool of {w.workers}")
        fanout["process"] = _time_fanout(work / "process", ProcessExecutor(w.workers), w)
        fanout["ray"] = None
        if not w.ray:
            notes.append("Ray was not measured (--no-ray).")
        elif importlib.util.find_spec("ray") is None:
            notes.append("Ray was not measured: pip install 'ctml[ray]'.")
        else:
            say(f"{w.fanout}-way fan-out, local Ray cluster of {w.workers} CPUs")
            with LocalRayCluster(nodes=1, cpus_per_node=w.workers) as address:
                fanout["ray"] = _time_fanout(work / "ray", RayExecutor(address), w)
        anchor, anchor_ms = None, None
        if not w.anchor:
            notes.append("The anchor was not measured (--no-anchor).")
        elif importlib.util.find_spec("metaflow") is None:
            notes.append("The Metaflow anchor was not measured: pip install 'ctml[bench]'.")
        else:
            say(f"Metaflow flows of {w.anchor_short} and {w.anchor_long} steps")
            short = _time_metaflow(work / "mf", w.anchor_short)
            long = _time_metaflow(work / "mf", w.anchor_long)
            anchor, anchor_ms = "metaflow", (long - short) / (w.anchor_long - w.anchor_short) * 1000
    return PipelineResult(w, overhead, fanout, anchor, anchor_ms, notes)


def _slope(short_s: float, long_s: float, w: PipelineBench) -> float:
    return (long_s - short_s) / (w.long_chain - w.short_chain) * 1000


def _chain_source(steps: int) -> str:
    lines = ["from ctml.pipeline import Pipeline, step", "", "", "@step"]
    lines += ["def s0(start: int = 0) -> int:", "    return start"]
    for i in range(1, steps):
        lines += ["", "", "@step", f"def s{i}(s{i - 1}: int) -> int:", f"    return s{i - 1}"]
    lines += ["", "", f"CHAIN = Pipeline([{', '.join(f's{i}' for i in range(steps))}], name='bench-chain')", ""]
    return "\n".join(lines)


def _time_chain(work: Path, steps: int) -> float:
    home = work / f"chain-{steps}"
    home.mkdir(parents=True)
    source = home / f"{_MODULE}_{steps}.py"
    source.write_text(_chain_source(steps))
    spec = importlib.util.spec_from_file_location(source.stem, source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open_meta(f"sqlite:///{home}/meta.db") as meta:
        store = open_store(str(home / "artifacts"))
        started = time.perf_counter()
        module.CHAIN.run(meta, store)
        return time.perf_counter() - started


def _time_fanout(home: Path, executor: Executor, w: PipelineBench) -> float:
    from ctml.bench._pipeline_flows import FANOUT, warm_up

    home.mkdir(parents=True)
    try:
        with open_meta(f"sqlite:///{home}/meta.db") as meta:
            store = open_store(str(home / "artifacts"))
            # Start the workers first, each with scikit-learn imported: a pool's or a cluster's start-up is paid
            # once in its life, not per fan-out.
            for future in executor.map(warm_up, range(4 * w.workers)):
                future.result(timeout=120)
            started = time.perf_counter()
            result = FANOUT.run(meta, store, params={"count": w.fanout, "rows": w.rows}, executor=executor)
            elapsed = time.perf_counter() - started
            models = result.load("gather")["models"]
            if models != w.fanout:
                raise RuntimeError(f"the fan-out trained {models} models, not {w.fanout}")
            return elapsed
    finally:
        executor.shutdown()


def _metaflow_source(steps: int) -> str:
    names = ["start", *(f"s{i}" for i in range(1, steps - 1)), "end"]
    lines = ["from metaflow import FlowSpec, step", "", "", "class BenchChain(FlowSpec):"]
    for here, after in zip(names, [*names[1:], None], strict=True):
        lines += ["    @step", f"    def {here}(self):"]
        lines += [f"        self.next(self.{after})" if after else "        pass", ""]
    lines += ["", "if __name__ == '__main__':", "    BenchChain()", ""]
    return "\n".join(lines)


def _time_metaflow(work: Path, steps: int) -> float:
    home = work / f"flow-{steps}"
    home.mkdir(parents=True)
    (home / "flow.py").write_text(_metaflow_source(steps))
    env = {
        **os.environ,
        "USERNAME": "ctml-bench",
        "METAFLOW_HOME": str(home),
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(home),
    }
    command = [sys.executable, "flow.py", "--no-pylint", "--quiet", "run"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the Metaflow flow failed:\n{done.stderr[-2000:]}")
    return elapsed


MARK_START = "<!-- ctml bench pipeline: start -->"
MARK_END = "<!-- ctml bench pipeline: end -->"


def markdown_section(result: PipelineResult, command: str) -> str:
    """The section of docs/benchmarks.md between its markers."""
    w = result.workload

    def secs(value: float | None) -> str:
        return "not measured" if value is None else f"{value:.2f} s"

    def times(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}x"

    anchor = (
        "not measured"
        if result.anchor_step_overhead_ms is None
        else f"{result.anchor_step_overhead_ms:.0f} ms ({result.anchor}; {times(result.anchor_ratio)} ctml's)"
    )
    lines = [
        MARK_START,
        "## Pipeline engine: step overhead and fan-out",
        "",
        f"Produced by `{command}`; do not edit by hand. See `ctml bench pipeline --help` for the method.",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        f"| overhead per no-op step, inline (chains of {w.short_chain} and {w.long_chain}) "
        f"| {result.step_overhead_ms:.2f} ms | <= {GOALS['step_overhead_ms']:.0f} ms |",
        f"| the same no-op step in the anchor | {anchor} | |",
        f"| {w.fanout}-way fan-out of small trainings, inline | {secs(result.fanout_s['inline'])} | |",
        f"| ... on a process pool of {w.workers} | {secs(result.fanout_s.get('process'))} "
        f"| speed-up {times(result.speedup('process'))} |",
        f"| ... on a local Ray cluster of {w.workers} CPUs | {secs(result.fanout_s.get('ray'))} "
        f"| speed-up {times(result.speedup('ray'))} |",
        MARK_END,
    ]
    return "\n".join(lines) + "\n"
