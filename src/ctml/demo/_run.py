"""``run_demo``: the bike-sharing stream replayed through the real product, in simulated time.

1. A workspace (the user's, from :class:`ctml.config.Settings`) under a :class:`SimulatedClock` set to the
   stream's first hour; the app gets a fresh name (``bikes``, ``bikes-2``, ...) and a feed folder
   ``<home>/demo/<app>/feed``, so a second run never meets the first one's state.
2. The warm-up hours are the first file of the feed; one :meth:`Controller.reconcile_once` ingests them,
   trains the first model, judges it with the gate and rolls it out.
3. A :class:`ModelServer` listens on a free loopback port (uvicorn); every hour is sent to
   ``POST /v1/apps/{app}/predict`` before its count is known, and the count follows ``label_delay_rows``
   hours later to ``/feedback`` and, as labelled rows, into the next file of the feed.
4. After each window the controller reconciles: ingest, monitor (drift, live MAE), policy, training, gate,
   roll-out step; the server's watcher then picks up the moved alias and route table.

What the loop did is narrated as :class:`DemoEvent` values while it happens; at the end the first champion
(never retrained) is scored on the same hours, and the report is written to ``<home>/reports/demo-<app>.html``
(and ``.json``), where ``ctml ui`` lists it.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from ctml.app import App
from ctml.backtest import BacktestResult, Marker, PolicyResult, Stream, render_backtest_html
from ctml.clock import SimulatedClock, WallClock
from ctml.config import Settings
from ctml.controller import Action, Controller
from ctml.demo._app import DemoConfig, demo_app
from ctml.demo._data import SOURCE_PATH, load_stream
from ctml.demo._events import DemoEvent, events_of
from ctml.demo._http import HttpServer
from ctml.demo._report import events_html
from ctml.demo._result import DemoResult
from ctml.errors import ConfigError, NotFoundError
from ctml.flavors import Model
from ctml.serve import AppSpec, ModelServer, Router, ServeConfig
from ctml.types import JSON
from ctml.workspace import Workspace

__all__ = ["APP", "OnEvent", "run_demo", "window_count"]

APP = "bikes"
"""The first demo app's name; later runs in the same workspace are ``bikes-2``, ``bikes-3``, ..."""

OnEvent = Callable[[DemoEvent], None]


def window_count(config: DemoConfig, rows: int) -> int:
    """How many controller cycles a replay of ``rows`` rows makes after the warm-up."""
    return -(-(rows - config.warmup_rows) // config.window_rows)


def run_demo(
    settings: Settings,
    config: DemoConfig | None = None,
    *,
    on_event: OnEvent | None = None,
    data: str | Path | None = None,
) -> DemoResult:
    """Replay the packaged stream (or ``data``, a copy of it) through the product; ``on_event`` hears each event."""
    config = config or DemoConfig()
    stream = load_stream(data, limit=config.rows)
    if stream.rows < config.warmup_rows + config.window_rows:
        raise ConfigError(f"The stream has {stream.rows} rows; the demo needs warmup_rows + window_rows "
                          f"({config.warmup_rows + config.window_rows}).")  # fmt: skip
    clock = SimulatedClock(stream.time_of(0))
    ws = Workspace(settings, clock=clock)
    try:
        name = _free_name(ws)
        folder = settings.home / "demo" / name
        if folder.exists():  # left by a run that died before it registered its app: it is the demo's own folder
            shutil.rmtree(folder)
        (folder / "feed").mkdir(parents=True)
        app = demo_app(name, folder / "feed", config)
        ws.meta.apps.put(name, {"demo": True, "source": SOURCE_PATH, "feed": str(folder / "feed"),
                                "target": app.target, "features": list(app.features or ()),
                                "config": config.to_json()})  # fmt: skip
        # One BLAS/OpenMP thread: the server's thread and the training share two cores without oversubscription.
        with threadpool_limits(limits=1):
            return _Replay(ws, app, stream, config, clock, folder, on_event).run()
    finally:
        ws.close()


def _free_name(ws: Workspace) -> str:
    """``bikes``, or the first of ``bikes-2``, ``bikes-3``, ... that no app, model or dataset of the workspace uses."""
    for n in range(1, 10_000):
        name = APP if n == 1 else f"{APP}-{n}"
        if not _used(ws, name):
            return name
    raise ConfigError("This workspace already holds 9,999 demo apps; use another --home.")


def _used(ws: Workspace, name: str) -> bool:
    meta = ws.meta
    try:
        meta.apps.get(name)
        return True
    except NotFoundError:
        pass
    return bool(
        meta.controller.get(name) is not None
        or meta.models.versions(name, limit=1)
        or meta.datasets.list(name, limit=1)
    )


class ServingClock:
    """The model server's clock: simulated time for its records, wall time for the latency it measures.

    Under the plain simulated clock a request's latency would be however far the replay moved the clock
    while the request (or its shadow, which runs after the answer) was in flight: hours, not milliseconds.
    """

    def __init__(self, simulated: SimulatedClock) -> None:
        self.simulated = simulated
        self.wall = WallClock()

    def now(self) -> datetime:
        return self.simulated.now()

    def monotonic(self) -> float:
        return self.wall.monotonic()

    def sleep(self, seconds: float) -> None:
        self.wall.sleep(seconds)


@dataclass
class _Replay:
    ws: Workspace
    app: App
    stream: Stream
    config: DemoConfig
    clock: SimulatedClock
    folder: Path
    on_event: OnEvent | None
    events: list[DemoEvent] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    files: int = 0

    def run(self) -> DemoResult:
        wall = WallClock()
        began = wall.monotonic()
        stream, config, app = self.stream, self.config, self.app
        warmup, every, delay = config.warmup_rows, config.window_rows, config.label_delay_rows
        controller = Controller(self.ws, app, owner="ctml-demo", clock=self.clock, window=config.window,
                                label_delay=config.label_delay, actor="ctml-demo")  # fmt: skip
        self._write(0, warmup)
        self.clock.set(stream.time_of(warmup))
        self._reconcile(controller, warmup, first=True)
        first = self._champion(controller)
        if first is None:
            raise ConfigError(f"The first model of {app.name!r} was not promoted by the gate; nothing to serve. "
                              f"See `ctml decisions --app {app.name}`.")  # fmt: skip
        server = ModelServer(ServeConfig([AppSpec(app.name, controller.model)], poll_s=3600.0, log_capacity=100_000),
                             self.ws.registry, clock=ServingClock(self.clock),
                             router=Router(random.Random(config.seed)))  # fmt: skip
        server.start(wait=True)
        predictions: list[float] = []
        ids: list[str] = []
        with HttpServer(server) as http:
            self._emit(DemoEvent("server", warmup, self.clock.now(), f"server listening on {http.url}",
                                 {"url": http.url, "model": controller.model, "version": first}))  # fmt: skip
            labelled = written = warmup
            total = window_count(config, stream.rows)
            for index, i in enumerate(range(warmup, stream.rows, every)):
                j = min(i + every, stream.rows)
                for a in range(i, j, config.request_rows):
                    b = min(a + config.request_rows, j)
                    self.clock.set(stream.time_of(a))
                    rows: list[JSON] = [dict(zip(stream.features, map(float, x), strict=True)) for x in stream.X[a:b]]
                    status, body = http.post(f"/v1/apps/{app.name}/predict", {"rows": rows})
                    if status != 200:
                        raise ConfigError(f"The model server answered {status} to hours {a}-{b}: {body}")
                    predictions.extend(float(p) for p in body["predictions"])
                    ids.extend(body["ids"])
                self.clock.set(stream.time_of(j))
                due = max(labelled, j - delay)
                self._feedback(http, ids, labelled, due)
                labelled = due
                if due > written:
                    self._write(written, due)
                    written = due
                server.log.flush()
                mae = float(np.mean(np.abs(stream.y[i:j] - np.asarray(predictions[i - warmup : j - warmup]))))
                told = f"hours from {stream.time_of(i):%Y-%m-%d}: live MAE {mae:.1f}"
                self._emit(
                    DemoEvent("window", j, self.clock.now(), told, {"index": index + 1, "total": total, "mae": mae})
                )
                if j < stream.rows:
                    self._reconcile(controller, j, first=False)
                    server.watcher.poll()
            server.log.flush()
        controller.release()
        return self._result(first, np.asarray(predictions), wall.monotonic() - began)

    # -- the loop's pieces ---------------------------------------------------------------------------------------

    def _write(self, lo: int, hi: int) -> None:
        """Rows ``[lo, hi)``, labelled, as the next file of the feed (what a live export would drop there)."""
        pq.write_table(self.stream.table.slice(lo, hi - lo), self.folder / "feed" / f"part-{self.files:05d}.parquet")
        self.files += 1

    def _feedback(self, http: HttpServer, ids: list[str], lo: int, hi: int) -> None:
        """The counts of hours ``[lo, hi)``, each stamped with the time it became known (its hour + the delay)."""
        warmup, delay, stream = self.config.warmup_rows, self.config.label_delay_rows, self.stream
        for start in range(lo, hi, 1000):
            stop = min(start + 1000, hi)
            labels: list[JSON] = [
                {"id": ids[r - warmup], "label": float(stream.y[r]), "at": stream.time_of(r + delay).isoformat()}
                for r in range(start, stop)
            ]
            status, body = http.post(f"/v1/apps/{self.app.name}/feedback", {"labels": labels})
            if status != 200:
                raise ConfigError(f"The model server answered {status} to the counts of hours {start}-{stop}: {body}")

    def _reconcile(self, controller: Controller, row: int, *, first: bool) -> list[Action]:
        before = self._champion(controller)
        actions = controller.reconcile_once()
        now = self.clock.now()
        for event in events_of(actions, row, now, first=first):
            self._emit(event)
        if not first:  # the first model is the warm-up's; the chart marks what the loop did after it
            for action in actions:
                self._mark(row, action)
        after = self._champion(controller)
        if after is not None and after != before:
            what = "first champion" if before is None else f"replacing v{before}"
            self._emit(DemoEvent("promoted", row, now, f"promoted v{after} ({what})",
                                 {"version": after, "previous": before}))  # fmt: skip
        return actions

    def _mark(self, row: int, action: Action) -> None:
        if action.kind == "trigger" and action.outcome == "retrain":
            self.markers.append(Marker(row, "retrain", action.summary))
        elif action.kind == "gate" or (action.kind == "rollout" and action.outcome in ("rollback", "complete")):
            self.markers.append(Marker(row, action.outcome, action.summary))

    def _emit(self, event: DemoEvent) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _champion(self, controller: Controller) -> int | None:
        try:
            return self.ws.registry.resolve(controller.model, "champion").version
        except NotFoundError:
            return None

    # -- what it measured ----------------------------------------------------------------------------------------

    def _result(self, first: int, predictions: np.ndarray, elapsed: float) -> DemoResult:
        ws, stream, config, name = self.ws, self.stream, self.config, self.app.name
        warmup = config.warmup_rows
        truth = stream.y[warmup:]
        live = np.abs(truth - predictions)
        found = ws.registry.resolve(name, first)
        static_model = Model.from_bytes(ws.registry.load_bytes(name, first), digest=found.artifact_digest)
        static = np.abs(truth - np.asarray(static_model.predict(stream.X[warmup:], list(stream.features)), dtype=float))
        decisions = ws.meta.decisions.list(app=name, limit=1_000_000)
        verdicts: dict[str, int] = {}
        for d in decisions:
            if d.kind == "gate":
                verdicts[d.outcome] = verdicts.get(d.outcome, 0) + 1
        retrains = sum(d.kind == "trigger" and d.outcome == "retrain" for d in decisions) - 1  # less the first model
        rollbacks = sum(d.kind == "rollout" and d.outcome == "rollback" for d in decisions)
        moves = ws.registry.history(name, "champion")
        champion = ws.registry.resolve(name, "champion").version
        reports = ws.settings.home / "reports"  # where `ctml ui` lists reports
        reports.mkdir(parents=True, exist_ok=True)
        report = reports / f"demo-{name}.html"
        chart = BacktestResult(SOURCE_PATH, stream.target, "regression", stream.rows, warmup, config.window_rows,
                               config.label_delay_rows, {
                                   "ctml": PolicyResult("ctml", "mae", float(live.mean()), retrains, elapsed, live,
                                                        tuple(self.markers), via_server=True),
                                   "never": PolicyResult("never", "mae", float(static.mean()), 0, 0.0, static),
                               }, notes=(f"ctml: app {name!r}, every hour answered over HTTP by the model server "
                                         "before its count was known; never: the first champion "
                                         f"(v{first}) scored on the same hours, never replaced",))  # fmt: skip
        page = render_backtest_html(chart, title=f"ctml demo: {name}, bike rentals per hour (MAE, lower is better)")
        report.write_text(page.replace("</body>", events_html(self.events) + "</body>"), encoding="utf-8")
        document = chart.to_json()
        document["demo"] = {"app": name, "feed": str(self.folder / "feed"), "config": config.to_json(),
                            "events": [e.to_json() for e in self.events if e.kind != "window"]}  # fmt: skip
        report.with_suffix(".json").write_text(json.dumps(document, indent=1), encoding="utf-8")
        self._emit(DemoEvent("report", stream.rows, self.clock.now(), f"report written to {report}",
                             {"path": str(report)}))  # fmt: skip
        return DemoResult(
            app=name,
            model=name,
            home=ws.settings.home,
            folder=self.folder,
            report=report,
            url=next((str(e.evidence.get("url")) for e in self.events if e.kind == "server"), ""),
            rows=stream.rows,
            scored_rows=int(truth.size),
            windows=window_count(config, stream.rows),
            live_mae=float(live.mean()),
            static_mae=float(static.mean()),
            static_version=first,
            champion_version=champion,
            retrains=retrains,
            promotions=max(0, len(moves) - 1),
            rollbacks=rollbacks,
            gate_verdicts=verdicts,
            predictions_logged=ws.meta.predictions.count(name),
            decisions_stored=len(decisions),
            events=tuple(self.events),
            elapsed_s=elapsed,
        )
