"""ctml's own policy, replayed through the production code: controller, model server, prediction log, monitor.

A workspace on a temporary SQLite database and artifact folder; the app's source is a folder the replay
writes labelled rows into, one Parquet file per window, as a live feed would. In simulated time:

1. the warm-up rows are the first file; one :meth:`Controller.reconcile_once` trains, judges and serves the
   first model;
2. every row is predicted by the in-process :class:`ModelServer` (``/predict``, ``request_rows`` rows a
   request, routed by the roll-out's route table; every challenger answers it too) before its label is known;
3. a row's label arrives ``delay`` rows later: after each request the labels due by then are sent to
   ``/feedback`` (stamped with their arrival time; the server's online candidates learn them at once), and at
   the end of the window they are written to the next file the source picks up (``labels_per_window``: the
   labels too are sent only then, as the loop did before it had online candidates);
4. at the end of every window the prediction log is flushed, the controller reconciles (monitor, trigger,
   train, gate, roll-out step), and the server's watcher picks up moved aliases and routes.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from ctml.app import App
from ctml.backtest._asgi import AsgiClient
from ctml.backtest._baselines import score
from ctml.backtest._result import Marker, PolicyResult
from ctml.backtest._stream import Stream
from ctml.clock import SimulatedClock, WallClock
from ctml.config import Settings
from ctml.controller import Action, Controller
from ctml.data import FileSource
from ctml.errors import ConfigError
from ctml.meta._records import to_ms
from ctml.serve import AppSpec, Arrival, Block, ModelServer, Router, ServeConfig
from ctml.types import JSON, JSONObject
from ctml.workspace import Workspace

__all__ = ["replay_ctml"]


Progress = Callable[[str, int, int], None]
"""``progress(policy, rows done, rows)``: told after every window of a replay."""


def replay_ctml(
    stream: Stream,
    app: App,
    *,
    warmup: int,
    every: int,
    delay: int,
    request_rows: int = 1,
    workdir: Path | None = None,
    seed: int = 0,
    labels_per_window: bool = False,
    progress: Progress | None = None,
    per_request: bool = False,
) -> PolicyResult:
    """Replay ``stream`` through ``app``'s controller and a model server; ``workdir`` keeps the workspace.

    The rows of each window reach the server as one block (:meth:`ModelServer.answer_block`), or with
    ``per_request`` as ``request_rows``-row requests to ``/predict`` and ``/feedback`` over ASGI: the same
    answers, the same decisions, one request's overhead a row."""
    args = (warmup, every, delay, request_rows, seed, labels_per_window, progress, per_request)
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        return _replay(stream, app, workdir, *args)
    with tempfile.TemporaryDirectory(prefix="ctml-backtest-") as tmp:
        return _replay(stream, app, Path(tmp), *args)


def _replay(
    stream: Stream,
    app: App,
    root: Path,
    warmup: int,
    every: int,
    delay: int,
    request_rows: int,
    seed: int,
    labels_per_window: bool,
    progress: Progress | None,
    per_request: bool,
) -> PolicyResult:
    wall = WallClock()
    began_all = wall.monotonic()
    clock = SimulatedClock(stream.time_of(0))
    feed = root / "feed"
    feed.mkdir(exist_ok=True)
    app = replace(app, source=FileSource(feed / "*.parquet"))
    settings = Settings(home=root, meta_url=f"sqlite:///{root / 'meta.db'}", artifact_url=str(root / "artifacts"),
                        actor="backtest")  # fmt: skip
    ws = Workspace(settings, clock=clock)
    row_s = max(1.0, (stream.time_of(stream.rows - 1) - stream.time_of(0)).total_seconds() / max(1, stream.rows - 1))
    window = timedelta(seconds=row_s * max(5 * every, 500))
    controller = Controller(ws, app, owner="backtest", clock=clock, window=window,
                            label_delay=timedelta(seconds=row_s * delay))  # fmt: skip
    markers: list[Marker] = []
    files = 0

    def write(lo: int, hi: int) -> None:
        nonlocal files
        if hi > lo:
            pq.write_table(stream.table.slice(lo, hi - lo), feed / f"part-{files:06d}.parquet")
            files += 1

    def reconcile(row: int) -> list[Action]:
        actions = controller.reconcile_once()
        for action in actions:
            _mark(markers, row, action)
        return actions

    write(0, warmup)
    clock.set(stream.time_of(warmup))
    began = wall.monotonic()
    first = reconcile(warmup)
    first_s = wall.monotonic() - began
    markers.clear()  # the first model is the warm-up's, as for every baseline
    # snapshots exist for a restart, which a replay never has: a few per learner keep their code path exercised
    config = ServeConfig([AppSpec(app.name, controller.model)], poll_s=3600.0, log_capacity=1_000_000,
                         snapshot_labels=max(5000, stream.rows // 3), snapshot_s=1e9)  # fmt: skip
    server = ModelServer(config, ws.registry, clock=clock, router=Router(random.Random(seed)))
    began = wall.monotonic()
    server.start(wait=True)
    start_s = wall.monotonic() - began
    if not server.ready:
        server.stop()
        ws.close()
        summary = "; ".join(a.summary for a in first)
        raise ConfigError(f"ctml's first model on the warm-up rows was not served: {summary}. Check the gate.")
    client = AsgiClient(server.app) if per_request else None  # the block path calls the server directly
    predictions: list[Any] = []
    ids: list[str] = []
    routes: dict[str, int] = {}
    versions: dict[int, int] = {}
    spent: dict[str, float] = {"controller": first_s, "model loads": start_s}
    labelled = warmup  # rows [warmup, labelled) have had their feedback sent
    written = warmup  # rows [0, written) are in the feed

    def spend(key: str, since: float) -> None:
        spent[key] = spent.get(key, 0.0) + wall.monotonic() - since

    try:
        for i in range(warmup, stream.rows, every):
            j = min(i + every, stream.rows)
            if client is not None:
                began = wall.monotonic()
                labelled = _requests(client, server, app.name, stream, i, j, warmup, labelled, delay, request_rows,
                                     labels_per_window, clock, predictions, ids, routes, versions)  # fmt: skip
                spend("requests", began)
            else:
                due = max(labelled, j - delay)
                clock.set(stream.time_of(i))
                block = _block(stream, i, j, warmup, labelled, due, delay, labels_per_window, ids)
                answer = server.answer_block(app.name, block)
                for key, value in answer.seconds.items():
                    spent[key] = spent.get(key, 0.0) + value
                predictions.extend(answer.predictions)
                ids.extend(answer.ids)
                for route, version in zip(answer.routes, answer.versions, strict=True):
                    routes[route] = routes.get(route, 0) + 1
                    versions[version] = versions.get(version, 0) + 1
                labelled = due
            clock.set(stream.time_of(j))
            if progress is not None:
                progress(app.name, j - warmup, stream.rows - warmup)
            began = wall.monotonic()
            write(written, j - delay if j - delay > written else written)
            written = max(written, j - delay)
            spend("feed", began)
            if j < stream.rows:
                began = wall.monotonic()
                reconcile(j)
                spend("controller", began)
                began = wall.monotonic()
                server.watcher.poll()
                spend("model loads", began)
    finally:
        if client is not None:
            client.close()
        server.stop()
        learned = {f"v{v}": s.learned for (_, _, v), s in sorted(server.learners.stats.items())}
    logged = ws.meta.predictions.count(app.name)
    stored = len(ws.meta.decisions.list(app=app.name, limit=100_000))
    scores = score(stream, warmup, np.asarray(predictions))
    retrains = sum(m.kind == "retrain" for m in markers)
    fits = _fits(ws)
    ws.close()
    details: dict[str, Any] = {"logged_predictions": logged, "stored_decisions": stored, "routes": dict(routes),
                               "files_ingested": files, "served_by": {str(k): v for k, v in sorted(versions.items())},
                               "learned": learned, "replay": "requests" if per_request else "blocks",
                               "time": _split(spent, fits, wall.monotonic() - began_all), "fits": fits}  # fmt: skip
    return PolicyResult("ctml", "accuracy" if stream.task == "classification" else "mae", float(scores.mean()),
                        retrains, wall.monotonic() - began_all, scores, tuple(markers), via_server=True,
                        details=details)  # fmt: skip


def _requests(
    client: AsgiClient,
    server: ModelServer,
    app: str,
    stream: Stream,
    i: int,
    j: int,
    warmup: int,
    labelled: int,
    delay: int,
    request_rows: int,
    labels_per_window: bool,
    clock: SimulatedClock,
    predictions: list[Any],
    ids: list[str],
    routes: dict[str, int],
    versions: dict[int, int],
) -> int:
    """Rows ``[i, j)`` as ``/predict`` requests of ``request_rows`` rows, each followed by the labels due by then
    (or, ``labels_per_window``, all at the end); returns the first row whose label is still to come."""
    for a in range(i, j, request_rows):
        b = min(a + request_rows, j)
        clock.set(stream.time_of(a))
        rows: list[JSON] = [dict(zip(stream.features, map(float, x), strict=True)) for x in stream.X[a:b]]
        status, body = client.post(f"/v1/apps/{app}/predict", {"rows": rows})
        if status != 200:
            raise ConfigError(f"The model server answered {status} to rows {a}-{b}: {body}")
        predictions.extend(body["predictions"])
        ids.extend(body["ids"])
        routes[body["route"]] = routes.get(body["route"], 0) + (b - a)
        versions[body["version"]] = versions.get(body["version"], 0) + (b - a)
        due = max(labelled, b - delay)
        if not labels_per_window and due > labelled:
            server.log.flush()  # feedback names logged predictions: the log writer must have stored them
            _feedback(client, app, stream, ids, warmup, labelled, due, delay)
            labelled = due
    clock.set(stream.time_of(j))
    server.log.flush()
    due = max(labelled, j - delay)
    _feedback(client, app, stream, ids, warmup, labelled, due, delay)
    return due


def _block(
    stream: Stream,
    i: int,
    j: int,
    warmup: int,
    labelled: int,
    due: int,
    delay: int,
    labels_per_window: bool,
    ids: list[str],
) -> Block:
    """Rows ``[i, j)`` and the labels of rows ``[labelled, due)``, each arriving once row ``r + delay`` was
    answered (all at the end with ``labels_per_window``), as :func:`_requests` sends them with one-row requests."""
    at_ms = [to_ms(stream.time_of(k)) for k in range(i, j)]
    arrivals = []
    for r in range(labelled, due):
        value = stream.y[r]
        label = float(value) if stream.task == "regression" else value.item()
        after = j - i if labels_per_window else r + delay - i + 1
        target: int | str = r - i if r >= i else ids[r - warmup]
        arrivals.append(Arrival(after, target, label, to_ms(stream.time_of(r + delay))))
    return Block(tuple(stream.features), stream.X[i:j], at_ms, arrivals)


def _fits(ws: Workspace) -> list[JSONObject]:
    """Every model the controller trained: its flavor, rows (``start``:``stop`` of the history, which is the
    stream's rows in order) and seconds (the ``train`` runs' records)."""
    out: list[JSONObject] = []
    for run in ws.meta.runs.search("kind = 'train'", order_by="created asc", limit=100_000):
        seconds = run.metrics.get("train.seconds")
        tag = run.tags.get("ctml.train.train")
        info = json.loads(tag) if tag else {}
        rows = info.get("rows")
        span = rows if isinstance(rows, dict) else {}
        out.append({"flavor": info.get("flavor"), "rows": span.get("count"), "start": span.get("start"),
                    "stop": span.get("stop"), "seconds": seconds})  # fmt: skip
    return out


def _split(spent: dict[str, float], fits: list[JSONObject], total: float) -> JSONObject:
    """Where the replay's wall time went: candidates' predict and learn, batch fits, the log and the store,
    the controller and gate (less the fits), loading models; ``other`` is the rest."""
    fit_s = 0.0
    for fit in fits:
        seconds = fit.get("seconds")
        if isinstance(seconds, int | float):
            fit_s += float(seconds)
    out: dict[str, float] = {}
    for key, value in spent.items():
        if key.startswith("predict"):  # each candidate's predict vN, or predict and learn vN
            out[key] = value
    out["batch fits"] = fit_s
    out["log and store"] = (
        spent.get("log", 0.0) + spent.get("labels", 0.0) + spent.get("snapshots", 0.0) + spent.get("feed", 0.0)
    )
    out["controller and gate"] = max(0.0, spent.get("controller", 0.0) - fit_s)
    out["model loads"] = spent.get("model loads", 0.0)
    if "requests" in spent:
        out["requests"] = spent["requests"]
    out["other"] = max(0.0, total - sum(out.values()))
    out["total"] = total
    return {k: round(v, 3) for k, v in out.items()}


def _feedback(
    client: AsgiClient, app: str, stream: Stream, ids: list[str], warmup: int, lo: int, hi: int, delay: int
) -> None:
    """Send the labels of rows ``[lo, hi)``, each stamped with the time it arrived (its row + ``delay``)."""
    for start in range(lo, hi, 1000):
        stop = min(start + 1000, hi)
        labels: list[JSON] = []
        for r in range(start, stop):
            value = stream.y[r]
            label = float(value) if stream.task == "regression" else value.item()
            at = stream.time_of(r + delay).isoformat()
            labels.append({"id": ids[r - warmup], "label": label, "at": at})
        status, body = client.post(f"/v1/apps/{app}/feedback", {"labels": labels})
        if status != 200:
            raise ConfigError(f"The model server answered {status} to feedback for rows {start}-{stop}: {body}")


def _mark(markers: list[Marker], row: int, action: Action) -> None:
    if action.kind == "ingest" and action.outcome in ("rejected", "kept"):
        markers.append(Marker(row, f"data_{action.outcome}", action.summary))
    elif action.kind == "train" and action.outcome == "failed":
        markers.append(Marker(row, "train_failed", action.summary))
    elif action.kind == "trigger" and action.outcome == "retrain":
        markers.append(Marker(row, "retrain", _reason(action)))
    elif (
        (action.kind == "gate" and action.outcome in ("promote", "reject", "needs_approval", "shadow"))
        or (action.kind == "rollout" and action.outcome in ("rollback", "complete"))
        or (action.kind == "tournament" and action.outcome == "promote")
    ):
        markers.append(Marker(row, action.outcome, action.summary))


def _reason(action: Action) -> str:
    """The rule that fired (``drift``, ``performance_drop``, ``volume``, ``manual``), else the summary."""
    rule = action.evidence.get("rule")
    fired = _fired(rule)
    return fired or action.summary


def _fired(rule: Any) -> str | None:
    """The names of the leaf rules that fired, joined by '+' (an AnyOf's children are in its evidence)."""
    if not isinstance(rule, dict) or rule.get("fired") is not True:
        return None
    evidence = rule.get("evidence")
    children = evidence.get("rules") if isinstance(evidence, dict) else None
    if isinstance(children, list):
        names = [n for n in (_fired(c) for c in children) if n]
        if names:
            return "+".join(names)
    name = rule.get("rule")
    return name if isinstance(name, str) else None
