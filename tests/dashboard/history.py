"""A workspace with real history for the dashboard: the demo (``ctml demo --quick``: bike sharing through a live
model server, the controller, the gate and canary roll-outs), a backtest of elec2 through the same production
loop, pipeline runs with cache hits and a failure, a log, a backtest report, a gate verdict that needs approval,
and API tokens."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from ctml.backtest import BacktestConfig, load_stream, render_backtest_html, run_backtest
from ctml.clock import SimulatedClock
from ctml.config import Settings
from ctml.demo import DemoConfig, run_demo
from ctml.errors import NotFoundError
from ctml.evaluate import Gate, record_verdict
from ctml.flavors import Model, fit_model
from ctml.pipeline import Pipeline, step
from ctml.serve import create_token
from ctml.workspace import Workspace

ELEC2 = Path("/work/shared/datasets/elec2/elec2.csv")
ROWS = 6000
APP = "elec2"
DEMO_APP = "bikes"


@dataclass(frozen=True)
class Populated:
    home: Path
    settings: Settings
    pending_decision: str
    pending_version: int
    operate_token: str
    read_token: str
    failed_run: str
    cached_run: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@step
def numbers(count: int = 200) -> list[float]:
    return [float(i) for i in range(count)]


@step
def mean(numbers: list[float]) -> float:
    return sum(numbers) / len(numbers)


@step
def explode(mean: float) -> float:
    raise ValueError(f"refusing a mean of {mean}")


def _pipelines(ws: Workspace) -> tuple[str, str]:
    good = Pipeline([numbers, mean], name="features")
    good.run(ws.meta, ws.artifacts, seed=1)
    cached = good.run(ws.meta, ws.artifacts, seed=1)  # every step a cache hit
    failed = Pipeline([numbers, mean, explode], name="broken")
    with pytest.raises(Exception, match="refusing a mean"):  # the failure, with its traceback, is what we want
        failed.run(ws.meta, ws.artifacts, seed=1)
    broken = ws.meta.runs.search("name = 'broken'", limit=1)[0]
    with ws.tracker.start_run("nightly-report", app=APP, kind="report") as run:
        run.log_artifact("run.log", b"loaded 6000 rows\nfitted in 1.2 s\nwrote report\n", media_type="text/plain")
    return broken.id, cached.run_id


def _pending(ws: Workspace, stream_rows: int) -> tuple[str, int]:
    """A real gate verdict that asks a human: a challenger trained on the newest rows of the replay (a tracked
    run, a registered version), judged against the champion on the 1,000 rows after it."""
    stream = load_stream(ELEC2, "class", limit=stream_rows + 1000)
    names = list(stream.features)
    X, y = stream.X[stream_rows:], stream.y[stream_rows:]
    with ws.tracker.start_run("train-by-hand", app=APP, kind="train", params={"rows": 2000}, seed=0) as run:
        model = fit_model(
            HistGradientBoostingClassifier(random_state=0),
            stream.X[stream_rows - 2000 : stream_rows],
            stream.y[stream_rows - 2000 : stream_rows],
            feature_names=names,
            seed=0,
        )
        candidate = ws.registry.register(APP, model.to_bytes(), app=APP, flavor=model.flavor.name, run_id=run.id)
    champion = ws.registry.resolve(APP, "champion")
    kept = Model.from_bytes(ws.registry.load_bytes(APP, champion.version), digest=champion.artifact_digest)
    gate = Gate(require_approval=True)
    verdict = gate.judge(y, model.predict(X, names), kept.predict(X, names))
    if verdict.outcome != "needs_approval":  # not better than the champion on these rows: ask on the floors
        verdict = gate.judge(y, model.predict(X, names))
    assert verdict.outcome == "needs_approval", verdict
    stored = record_verdict(
        ws.meta, verdict, app=APP, run_id=run.id, model=APP, version=candidate.version, actor="controller"
    )
    return stored.id, candidate.version


@pytest.fixture(scope="session")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Populated:
    if not ELEC2.exists():
        pytest.skip("elec2 is not available")
    home = tmp_path_factory.mktemp("dashboard")
    config = BacktestConfig(policies=("ctml", "never"), limit=ROWS, window_rows=250, label_delay=50)
    result = run_backtest(ELEC2, "class", config=config, workdir=home)
    reports = home / "reports"
    reports.mkdir()
    (reports / "elec2-slice.json").write_text(json.dumps(result.to_json()))
    (reports / "elec2-slice.html").write_text(render_backtest_html(result))
    settings = Settings.local(home, "tester")
    demo = run_demo(settings, DemoConfig.quick())  # the demo's records and report, in the same store
    assert demo.app == DEMO_APP, demo.app
    # What the fixture adds happens just after the replay, in the replay's simulated time, as it would live.
    end = load_stream(ELEC2, "class", limit=ROWS).time_of(ROWS + 20)
    with Workspace(settings, clock=SimulatedClock(end)) as ws:
        try:
            ws.registry.resolve(APP, "champion")
        except NotFoundError:  # pragma: no cover - the replay always serves a first model
            pytest.fail("the backtest left no champion")
        failed, cached = _pipelines(ws)
        decision, version = _pending(ws, ROWS)
        _, operate = create_token(ws.meta, "operate", "ana")
        _, read = create_token(ws.meta, "read", "viewer")
    return Populated(home, settings, decision, version, operate, read, failed, cached)
