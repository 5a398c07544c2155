"""Serving benchmark: ctml (prediction logging on) against ``mlflow models serve`` and a bare Starlette app.

The same scikit-learn model (a LogisticRegression fitted on the first 5,000 rows of Elec2 from
shared/datasets/elec2, 8 features) is served on loopback by each server, each one process under one uvicorn
worker (MLflow: ``mlflow models serve --env-manager local -w 1``). For each scenario (1-row and 100-row
requests, at 1 and 16 connections) a separate load-generator process (:mod:`ctml.bench._serve_load`: raw
HTTP/1.1 keep-alive over asyncio, closed loop, pre-built request bytes) drives each server for a fixed time
after a warm-up and reports requests per second and the p99 latency. The generator is the same code for all
three, so it costs each the same. All servers start first and stay up; one is driven at a time, taking turns,
``repeats`` rounds per scenario, and each server's best round is reported (with the client and the server
sharing two cores, scheduling noise only ever slows a round down).

ctml does more per request than the bare app: it validates the body against the signature, routes, gives
every row an id, and queues every prediction for the log, which a writer thread writes to SQLite. It reads
and writes JSON with orjson (when installed, as the ``serve`` extra does); the bare app is what Starlette
offers out of the box (``json.loads`` and ``JSONResponse``), as MLflow's server uses the standard library too.
The bare app calls scikit-learn's ``predict`` and ``predict_proba``. ctml, as ``ctml serve`` runs by default,
answers this plain ``LogisticRegression`` in one NumPy pass proven equal to those calls when the model loads
(:func:`ctml.flavors.predictor`); it is also measured as ``ctml serve --no-fast-path`` (``ctml_sklearn``),
making the same two scikit-learn calls as the bare app.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ctml.errors import ConfigError

__all__ = ["GOALS", "Scenario", "ServeBenchResult", "ServeWorkload", "bench_serve", "find_elec2"]

#: ctml's throughput over MLflow's (target, goal) and over the bare app's (target).
GOALS = {"mlflow_x": 3.0, "mlflow_x_goal": 5.0, "bare_x": 0.8}
TRAIN_ROWS = 5000
FEATURES = ("date", "day", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServeWorkload:
    rows: tuple[int, ...] = (1, 100)
    connections: tuple[int, ...] = (1, 16)
    seconds: float = 5.0
    warmup: float = 1.0
    repeats: int = 3

    @classmethod
    def quick(cls) -> ServeWorkload:
        return cls(seconds=1.5, warmup=0.5, repeats=1)


@dataclass
class Scenario:
    rows: int
    connections: int
    ctml_rps: float | None = None
    ctml_sklearn_rps: float | None = None
    mlflow_rps: float | None = None
    bare_rps: float | None = None
    ctml_p99_ms: float | None = None
    ctml_sklearn_p99_ms: float | None = None
    mlflow_p99_ms: float | None = None
    bare_p99_ms: float | None = None
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ServeBenchResult:
    workload: ServeWorkload
    scenarios: list[Scenario]
    mlflow_skipped: str | None
    logged_rows: int
    load: str = ""

    def as_list(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.scenarios]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def find_elec2(start: Path | None = None) -> Path | None:
    """``shared/datasets/elec2/elec2.csv`` beside the working folder or any of its parents."""
    from ctml.bench.training import find_datasets

    root = find_datasets(start)
    return None if root is None else root / "elec2" / "elec2.csv"


def _fit(data: Path) -> tuple[Any, np.ndarray]:
    import pyarrow.csv
    from sklearn.linear_model import LogisticRegression

    from ctml.flavors import fit_model

    try:
        table = pyarrow.csv.read_csv(data).slice(0, TRAIN_ROWS)
        X = np.column_stack([table.column(n).to_numpy().astype(np.float64) for n in FEATURES])
        y = table.column("class").to_numpy().astype(str)
    except (OSError, KeyError, ValueError) as exc:  # pyarrow's errors are OSError/KeyError/ValueError subclasses
        raise ConfigError(
            f"Cannot read Elec2 from {data}: {exc}. Expected the CSV of shared/datasets/elec2 (columns "
            f"{', '.join(FEATURES)}, class)."
        ) from None
    return fit_model(LogisticRegression(max_iter=1000), X, y, feature_names=FEATURES, seed=0), X


def _wait(port: int, path: str, child: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise ConfigError(f"A benchmark server exited with status {child.returncode} before it was ready.")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise ConfigError(f"A benchmark server on port {port} was not ready after {timeout:.0f} s.")


def _load(port: int, path: str, body: bytes, connections: int, workload: ServeWorkload, folder: Path) -> dict[str, Any]:
    body_file = folder / f"body-{port}-{len(body)}.json"
    body_file.write_bytes(body)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ctml.bench._serve_load",
            "127.0.0.1",
            str(port),
            path,
            str(body_file),
            str(connections),
            str(workload.seconds),
            str(workload.warmup),
        ],
        capture_output=True,
        check=True,
        timeout=workload.seconds + workload.warmup + 60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def bench_serve(
    workload: ServeWorkload | None = None, *, data: Path | None = None, progress: Progress | None = None
) -> ServeBenchResult:
    """All servers start first and stay up; each scenario is measured ``repeats`` times, the servers taking
    turns, and each server's best run is kept (a 2-core machine's scheduling noise only ever slows a run).

    ``data`` is Elec2's CSV (by default shared/datasets/elec2/elec2.csv, found by :func:`find_elec2`).
    """
    workload = workload or ServeWorkload()
    data = data or find_elec2()
    if data is None or not data.is_file():
        where = "beside this folder or its parents" if data is None else f"at {data}"
        raise ConfigError(f"Cannot find Elec2's elec2.csv {where}. Pass --data PATH (shared/datasets/elec2/elec2.csv).")
    say = progress or (lambda _: None)
    with tempfile.TemporaryDirectory(prefix="ctml-bench-serve-") as tmp:
        folder = Path(tmp)
        model, X = _fit(data)
        load_before = os.getloadavg()[0]
        rows_json = [dict(zip(FEATURES, X[i].tolist(), strict=True)) for i in range(max(workload.rows))]
        servers = _servers(folder, model, rows_json)
        mlflow_skipped = None if "mlflow" in servers else _mlflow_missing()
        scenarios = [Scenario(r, c) for r in workload.rows for c in workload.connections]
        running: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for name, (command, ready, _, _, env) in servers.items():
                port = _free_port()
                say(f"starting {name}")
                child = subprocess.Popen(
                    [*command, str(port)] if name != "mlflow" else [*command, "-p", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                running[name] = (child, port)
                _wait(port, ready, child)
            for s in scenarios:
                best: dict[str, dict[str, Any]] = {}
                for round_ in range(workload.repeats):
                    for name, (_, port) in running.items():
                        _, _, path, body_of, _ = servers[name]
                        say(f"{name}: {s.rows} rows x {s.connections} connections, run {round_ + 1}")
                        got = _load(port, path, body_of(rows_json[: s.rows]), s.connections, workload, folder)
                        if got["errors"]:
                            s.errors[name] = s.errors.get(name, 0) + got["errors"]
                        if name not in best or got["rps"] > best[name]["rps"]:
                            best[name] = got
                for name, got in best.items():
                    setattr(s, f"{name}_rps", round(got["rps"], 1))
                    setattr(s, f"{name}_p99_ms", None if got["p99_ms"] is None else round(got["p99_ms"], 3))
        finally:
            for child, _ in running.values():
                child.terminate()
                child.wait(60)
        from ctml.meta import open_meta

        with open_meta(f"sqlite:///{folder / 'meta.db'}") as meta:
            logged = meta.predictions.count("elec")
    load = f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} CPUs"
    return ServeBenchResult(workload, scenarios, mlflow_skipped, logged, load)


def _json_library() -> str:
    try:
        import orjson
    except ImportError:
        return "the standard library (orjson is not installed)"
    return f"orjson {orjson.__version__}"


def _mlflow_missing() -> str | None:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return "mlflow is not installed (pip install 'ctml[bench]')"
    return None


def _servers(folder: Path, model: Any, rows: list[dict[str, float]]) -> dict[str, Any]:
    from ctml.meta import open_meta
    from ctml.registry import ModelRegistry
    from ctml.store import open_store

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    meta_url, artifacts = f"sqlite:///{folder / 'meta.db'}", str(folder / "artifacts")
    with open_meta(meta_url) as meta:
        registry = ModelRegistry(meta, open_store(artifacts), actor="bench")
        registry.register("elec", model.to_bytes(), flavor="sklearn")
        registry.promote("elec", 1)
    model_file = folder / "model.ctml"
    model_file.write_bytes(model.to_bytes())

    def ours(batch: list[dict[str, float]]) -> bytes:
        return json.dumps(batch[0] if len(batch) == 1 else {"rows": batch}).encode()

    servers: dict[str, Any] = {  # ctml_sklearn: `ctml serve --no-fast-path`
        name: (
            [sys.executable, "-m", "ctml.bench._serve_apps", name, meta_url, artifacts],
            "/readyz",
            "/v1/apps/elec/predict",
            ours,
            env,
        )
        for name in ("ctml", "ctml_sklearn")
    }
    servers["bare"] = (
        [sys.executable, "-m", "ctml.bench._serve_apps", "bare", str(model_file)],
        "/ping",
        "/predict",
        ours,
        env,
    )
    if _mlflow_missing() is None:
        servers["mlflow"] = _mlflow_server(folder, model, env)
    return servers


def _mlflow_server(folder: Path, model: Any, env: dict[str, str]) -> tuple[Any, ...]:  # pragma: no cover - needs mlflow
    import mlflow.sklearn

    path = folder / "mlflow-model"
    mlflow.sklearn.save_model(model.estimator, str(path))

    def body(batch: list[dict[str, float]]) -> bytes:
        return json.dumps({"dataframe_records": batch}).encode()

    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        str(path),
        "--env-manager",
        "local",
        "-w",
        "1",
        "-h",
        "127.0.0.1",
    ]
    # MLflow starts `uvicorn` by name: the interpreter's own bin folder must be on PATH (it is not when a
    # virtual environment is used without being activated).
    path_var = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.environ.get("PATH", ""))])
    return (command, "/ping", "/invocations", body, {**env, "PATH": path_var, "MLFLOW_DISABLE_TELEMETRY": "true"})


MARK_START = "<!-- ctml bench serve: start -->"
MARK_END = "<!-- ctml bench serve: end -->"


def markdown_section(result: ServeBenchResult, command: str) -> str:
    """The section of docs/benchmarks.md between its markers."""

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    def ratio(a: float | None, b: float | None) -> str:
        return "-" if a is None or not b else f"{a / b:.2f}x"

    w = result.workload
    lines = [
        MARK_START,
        "## Serving: ctml against `mlflow models serve` and a bare Starlette app",
        "",
        f"Produced by `{command}`; do not edit by hand. The best of {w.repeats} runs of {w.seconds:g} s (after a "
        f"{w.warmup:g} s warm-up) per server and scenario, the servers taking turns;",
        "one uvicorn worker per server, on loopback, from a separate load-generator process (see",
        "`ctml bench serve --help`). ctml logs every prediction; the bare app validates nothing and logs nothing.",
        "ctml answers the LogisticRegression in one NumPy pass proven equal to scikit-learn's when it loads; "
        '"ctml, sklearn calls" is `ctml serve --no-fast-path`, calling `predict` and `predict_proba` as the bare '
        "app does.",
        f"JSON: ctml {_json_library()}, the bare app and MLflow the standard library. Load while measuring: "
        f"{result.load}.",
        f"Goals: ctml >= {GOALS['mlflow_x']:g}x MLflow's throughput with a lower p99 "
        f"(goal {GOALS['mlflow_x_goal']:g}x), and >= {GOALS['bare_x']:g}x the bare app's.",
        "",
        "| rows | connections | ctml rps | ctml, sklearn calls rps | MLflow rps | bare rps | ctml / MLflow | "
        "ctml / bare | ctml, sklearn calls / MLflow / bare | p99 ms ctml / MLflow / bare |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result.scenarios:
        lines.append(
            f"| {s.rows} | {s.connections} | {num(s.ctml_rps)} | {num(s.ctml_sklearn_rps)} | {num(s.mlflow_rps)} | "
            f"{num(s.bare_rps)} | {ratio(s.ctml_rps, s.mlflow_rps)} | {ratio(s.ctml_rps, s.bare_rps)} | "
            f"{ratio(s.ctml_sklearn_rps, s.mlflow_rps)} / {ratio(s.ctml_sklearn_rps, s.bare_rps)} | "
            f"{ms(s.ctml_p99_ms)} / {ms(s.mlflow_p99_ms)} / {ms(s.bare_p99_ms)} |"
        )
    lines += ["", f"Predictions logged by ctml during the run: {result.logged_rows:,}.", MARK_END]
    return "\n".join(lines) + "\n"
