"""Dashboard benchmark: the apps overview and a model page, served over HTTP from a store of 10k runs and 1k
model versions, must answer in under 300 ms.

The store is a fresh SQLite workspace filled by bulk inserts through the metadata schema (the same tables the
tracker, registry, controller and monitor write): ``runs`` runs of one app, each with ``steps_per_run`` steps
(some cache hits, a few failures with tracebacks) and two metrics; ``versions`` versions of one model, each
produced by a run, with lineage edges and a stream of alias moves; the monitor's run with ``observations``
looks of a dozen drift and performance series; trigger, gate and roll-out decisions; and a prediction log with
labels. The dashboard runs under uvicorn on loopback in this process (one worker, its own thread); pages are
fetched with httpx after a warm-up, and the median and p95 of ``requests`` fetches each are reported.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ctml.bench._ui_store import APP, FEATURES, populate
from ctml.config import Settings
from ctml.errors import ConfigError, MissingExtraError

__all__ = ["GOAL_MS", "MARK_END", "MARK_START", "UiResult", "UiWorkload", "bench_ui", "markdown_section", "populate"]

GOAL_MS = 300.0
MARK_START = "<!-- ctml bench ui: start -->"
MARK_END = "<!-- ctml bench ui: end -->"


@dataclass(frozen=True)
class UiWorkload:
    runs: int = 10_000
    steps_per_run: int = 3
    versions: int = 1_000
    observations: int = 2_000
    decisions: int = 3_000
    predictions: int = 5_000
    requests: int = 30
    warmup: int = 3

    @classmethod
    def quick(cls) -> UiWorkload:
        return cls(requests=10, warmup=2)

    def __post_init__(self) -> None:
        if self.versions > self.runs or self.versions < 2:
            raise ConfigError(f"versions must be in [2, runs]. Got versions={self.versions}, runs={self.runs}.")


@dataclass(frozen=True)
class PageTiming:
    page: str
    path: str
    median_ms: float
    p95_ms: float
    bytes: int


@dataclass(frozen=True)
class UiResult:
    workload: UiWorkload
    pages: tuple[PageTiming, ...]
    populate_s: float

    def timing(self, page: str) -> PageTiming:
        return next(p for p in self.pages if p.page == page)

    @property
    def passed(self) -> bool:
        return all(p.median_ms < GOAL_MS for p in self.pages if p.page in ("overview", "model"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "overview_ms": round(self.timing("overview").median_ms, 2),
            "overview_p95_ms": round(self.timing("overview").p95_ms, 2),
            "model_ms": round(self.timing("model").median_ms, 2),
            "model_p95_ms": round(self.timing("model").p95_ms, 2),
            "runs": self.workload.runs,
            "steps": self.workload.runs * self.workload.steps_per_run,
            "versions": self.workload.versions,
            "goal_ms": GOAL_MS,
            "passed": self.passed,
            "populate_s": round(self.populate_s, 2),
            "pages": [asdict(p) for p in self.pages],
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_ui(workload: UiWorkload | None = None, *, progress: Any = None) -> UiResult:
    """Populate a temporary workspace, serve the dashboard on loopback, and time its pages."""
    try:
        import httpx
        import uvicorn
    except ImportError as exc:
        raise MissingExtraError("serve", "ctml bench ui", "uvicorn") from exc
    from ctml.dashboard import create_dashboard, standalone
    from ctml.workspace import Workspace

    w = workload or UiWorkload()
    say = progress or (lambda what: None)
    with tempfile.TemporaryDirectory(prefix="ctml-bench-ui-") as tmp:
        settings = Settings.local(Path(tmp), "bench")
        began = time.perf_counter()
        say(
            f"populating: {w.runs:,} runs x {w.steps_per_run} steps, {w.versions:,} versions, "
            f"{w.observations:,} monitor looks"
        )
        populate(settings, w)
        populated = time.perf_counter() - began
        ws = Workspace(settings)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                standalone(create_dashboard(ws)),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        thread = threading.Thread(target=server.run, name="bench-ui", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    raise ConfigError("The dashboard server did not start within 20 s.")
                time.sleep(0.02)
            pages = [
                ("overview", "/ui/"),
                ("model", f"/ui/models/{APP}"),
                ("app", f"/ui/apps/{APP}"),
                ("runs", "/ui/runs?page=100"),
                ("decisions", "/ui/decisions?page=20"),
            ]
            timings = []
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for name, path in pages:
                    say(f"timing {name} ({path})")
                    timings.append(_time(client, name, path, w))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            ws.close()
    return UiResult(w, tuple(timings), populated)


def _time(client: Any, name: str, path: str, w: UiWorkload) -> PageTiming:
    size = 0
    for _ in range(w.warmup):
        response = client.get(path)
        if response.status_code != 200:
            raise ConfigError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        size = len(response.content)
    took = []
    for _ in range(w.requests):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    p95 = took[min(len(took) - 1, round(0.95 * (len(took) - 1)))]
    return PageTiming(name, path, statistics.median(took), p95, size)


def markdown_section(result: UiResult, command: str) -> str:
    """The section of docs/benchmarks.md between its markers."""
    w = result.workload
    lines = [
        MARK_START,
        "## Dashboard: pages served from a store of 10k runs and 1k model versions",
        "",
        f"Produced by `{command}`; do not edit by hand. A fresh SQLite workspace with {w.runs:,} runs "
        f"({w.runs * w.steps_per_run:,} steps), {w.versions:,} versions of one model, {w.observations:,} monitor "
        f"looks of {len(FEATURES) + 7} series, {w.decisions:,} decisions and {w.predictions:,} labelled predictions;",
        "the dashboard under uvicorn on loopback (one worker), pages fetched with httpx after "
        f"{w.warmup} warm-up requests; median and p95 of {w.requests} requests each. Goal: the apps overview "
        f"and a model page under {GOAL_MS:g} ms.",
        "",
        "| page | path | median ms | p95 ms | KiB | goal |",
        "|---|---|---|---|---|---|",
    ]
    for p in result.pages:
        goal = ("pass" if p.median_ms < GOAL_MS else "FAIL") if p.page in ("overview", "model") else "-"
        lines.append(f"| {p.page} | `{p.path}` | {p.median_ms:.1f} | {p.p95_ms:.1f} | {p.bytes / 1024:.0f} | {goal} |")
    lines += ["", MARK_END]
    return "\n".join(lines) + "\n"
