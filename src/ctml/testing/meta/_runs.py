"""Checks of runs, metrics, search, steps and artifact references."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.meta import ArtifactRef, Metric
from ctml.testing._assertions import expect as _expect
from ctml.testing._assertions import raises as _raises
from ctml.testing.meta._expect import (
    DIGEST_A,
    DIGEST_B,
    T0,
    MetaStoreFactory,
    _at,
    _expect_fields,
    _expect_latest,
    _letters,
    _same_ref,
    _search_corpus,
)

# --- runs --------------------------------------------------------------------------------------------------


def check_fresh_store_is_empty(factory: MetaStoreFactory) -> None:
    """The factory gives an empty store: no runs, models, datasets, events, decisions, audit entries or apps."""
    with factory() as store:
        contents = {
            "runs.count()": store.runs.count(),
            "models.list()": len(store.models.list()),
            "datasets.list()": len(store.datasets.list()),
            "events.read()": len(store.events.read()),
            "decisions.list()": len(store.decisions.list()),
            "audit.list()": len(store.audit.list()),
            "apps.list()": len(store.apps.list()),
        }
        full = {name: n for name, n in contents.items() if n}
        _expect(not full, f"the factory must return an empty store, but it holds {full}")


def check_run_lifecycle(factory: MetaStoreFactory) -> None:
    """A run keeps what it was created with, takes logs while running, ends once, and refuses writes after."""
    with factory() as store:
        parent = store.runs.create("pipeline", app="churn", kind="pipeline", actor="ana")
        run_id = store.runs.create(
            "train",
            app="churn",
            kind="train",
            actor="ana",
            parent_id=parent,
            params={"alpha": 0.5, "model": "lgbm"},
            tags={"team": "risk"},
            code_fingerprint="f" * 64,
            git_commit="c" * 40,
            environment={"python": "3.11", "packages": {"numpy": "2.0"}},
            seed=7,
        )
        _expect(run_id != parent, "runs.create returned the same id twice")
        run = store.runs.get(run_id)
        _expect_fields(
            run,
            "runs.get after create",
            id=run_id,
            app="churn",
            name="train",
            kind="train",
            status="running",
            actor="ana",
            parent_id=parent,
            ended_at=None,
            code_fingerprint="f" * 64,
            git_commit="c" * 40,
            environment={"python": "3.11", "packages": {"numpy": "2.0"}},
            seed=7,
            error=None,
            params={"alpha": "0.5", "model": "lgbm"},
            metrics={},
            tags={"team": "risk"},
        )
        _expect(run.duration_s is None, "a running run has no duration")

        store.runs.log(run_id, params={"depth": 3}, metrics=[Metric("loss", 0.25)], tags={"team": "ml", "stage": "x"})
        run = store.runs.get(run_id)
        _expect_fields(
            run,
            "runs.get after log",
            params={"alpha": "0.5", "model": "lgbm", "depth": "3"},
            metrics={"loss": 0.25},
            tags={"team": "ml", "stage": "x"},
        )

        store.runs.finish(run_id)
        run = store.runs.get(run_id)
        _expect(run.status == "finished", f"runs.finish left status {run.status!r}, expected 'finished'")
        _expect(
            run.ended_at is not None and run.ended_at >= run.created_at,
            f"a finished run needs ended_at >= created_at, got {run.ended_at} for created_at {run.created_at}",
        )
        with _raises(ConflictError, "runs.log to a finished run"):
            store.runs.log(run_id, metrics=[Metric("loss", 0.1)])
        with _raises(ConflictError, "runs.finish of a finished run"):
            store.runs.finish(run_id, "failed")
        run = store.runs.get(run_id)
        _expect(
            run.status == "finished" and run.metrics == {"loss": 0.25},
            f"a refused write changed the finished run: status {run.status!r}, metrics {run.metrics}",
        )

        for status, error in (("failed", "Traceback (most recent call last): boom"), ("killed", "interrupted")):
            other = store.runs.create(f"run-{status}")
            store.runs.finish(other, status, error)
            ended = store.runs.get(other)
            _expect(
                ended.status == status and ended.error == error,
                f"runs.finish({status!r}, error) stored status {ended.status!r} and error {ended.error!r}",
            )

        open_run = store.runs.create("still-open")
        for bad in ("running", "done"):
            with _raises(ConfigError, f"runs.finish with status {bad!r}"):
                store.runs.finish(open_run, bad)
        _expect(store.runs.get(open_run).status == "running", "a refused runs.finish changed the run's status")

        with _raises(NotFoundError, "runs.get of an unknown id"):
            store.runs.get("no-such-run")
        with _raises(NotFoundError, "runs.log to an unknown id"):
            store.runs.log("no-such-run", metrics=[Metric("loss", 1.0)])
        with _raises(NotFoundError, "runs.finish of an unknown id"):
            store.runs.finish("no-such-run")
        with _raises(ConfigError, "runs.create with an empty name"):
            store.runs.create("")


def check_params_are_write_once(factory: MetaStoreFactory) -> None:
    """Params are stored as text (JSON for non-strings); the same value again is fine, another is a conflict
    that rolls back the whole batch."""
    with factory() as store:
        run_id = store.runs.create("r", params={"lr": 0.1, "layers": [64, 32], "flag": True, "name": "x"})
        expected = {"lr": "0.1", "layers": "[64,32]", "flag": "true", "name": "x"}
        params = store.runs.get(run_id).params
        _expect(params == expected, f"params stored as {params}, expected {expected}")

        store.runs.log(run_id, params={"lr": 0.1, "name": "x"})  # the same values again: not a conflict
        with _raises(ConflictError, "runs.log of another value for param 'lr'") as raised:
            store.runs.log(run_id, params={"lr": 0.2}, metrics=[Metric("acc", 0.9)], tags={"t": "v"})
        _expect("lr" in str(raised.value), f"the conflict message must name the param: {raised.value}")
        run = store.runs.get(run_id)
        _expect(run.params == expected, f"a refused param change altered params to {run.params}")
        _expect(
            "acc" not in run.metrics and "t" not in run.tags and not store.runs.metric_history(run_id, "acc"),
            "a batch refused for a param conflict must not store any of its metrics or tags "
            f"(metrics {run.metrics}, tags {run.tags})",
        )


def check_metric_history_and_latest(factory: MetaStoreFactory) -> None:
    """Every point is kept, ordered by (step, time); a run's metric is the point with the highest step, ties
    broken by the later time, whatever order the points arrive in."""
    with factory() as store:
        run_id = store.runs.create("r")
        log = store.runs.log
        log(
            run_id,
            metrics=[Metric("loss", 0.9, 0, T0), Metric("loss", 0.5, 2, T0 + 10), Metric("loss", 0.7, 1, T0 + 20)],
        )
        _expect_latest(store, run_id, "loss", 0.5, "the highest step wins even when a lower step is logged later")
        log(run_id, metrics=[Metric("loss", 0.4, 2, T0 + 30)])
        _expect_latest(store, run_id, "loss", 0.4, "on the same step the later time wins")
        log(run_id, metrics=[Metric("loss", 0.1, 2, T0 + 5)])
        _expect_latest(store, run_id, "loss", 0.4, "on the same step an earlier time must not win")
        log(run_id, metrics=[Metric("loss", 0.2, 1, T0 + 100)])
        _expect_latest(store, run_id, "loss", 0.4, "a lower step logged later must not win")

        history = [(p.step, p.value, p.at) for p in store.runs.metric_history(run_id, "loss")]
        expected = [(0, 0.9, 0), (1, 0.7, 20), (1, 0.2, 100), (2, 0.1, 5), (2, 0.5, 10), (2, 0.4, 30)]
        wanted = [(step, value, _at(offset)) for step, value, offset in expected]
        _expect(history == wanted, f"metric_history must keep every point ordered by (step, time): {history}")

        log(run_id, metrics=[Metric("acc", 0.1, 5, T0), Metric("acc", 0.2, 3, T0 + 1)])
        _expect_latest(store, run_id, "acc", 0.1, "within one batch the highest step wins")
        log(run_id, metrics=[Metric("f1", 0.5)])
        points = store.runs.metric_history(run_id, "f1")
        _expect(
            len(points) == 1 and points[0].step == 0 and points[0].key == "f1",
            f"a metric logged without a step is at step 0: {points}",
        )
        metrics = store.runs.get(run_id).metrics
        _expect(metrics == {"loss": 0.4, "acc": 0.1, "f1": 0.5}, f"latest metrics per key wrong: {metrics}")
        _expect(store.runs.metric_history(run_id, "nope") == [], "metric_history of an unlogged key must be []")


def check_non_finite_metrics_refused(factory: MetaStoreFactory) -> None:
    """NaN and infinities are refused with ConfigError, and nothing of their batch is stored."""
    with factory() as store:
        run_id = store.runs.create("r")
        for bad in (math.nan, math.inf, -math.inf):
            with _raises(ConfigError, f"logging the metric value {bad}") as raised:
                store.runs.log(run_id, metrics=[Metric("ok", 1.0), Metric("bad", bad)])
            _expect("bad" in str(raised.value), f"the message must name the metric: {raised.value}")
        with _raises(ConfigError, "logging a metric with an empty key"):
            store.runs.log(run_id, metrics=[Metric("", 1.0)])
        run = store.runs.get(run_id)
        _expect(run.metrics == {}, f"a refused batch stored metrics: {run.metrics}")
        _expect(store.runs.metric_history(run_id, "ok") == [], "a refused batch stored history points")


def check_search_filters(factory: MetaStoreFactory) -> None:
    """The filter language: metrics (on the latest value), params, tags and run columns, joined by 'and'."""
    with factory() as store:
        runs = _search_corpus(store)
        cases = {
            "": "abcd",
            "metrics.acc > 0.9": "a",
            "metrics.acc >= 0.85": "ac",
            "metrics.acc < 0.9": "bc",
            "metrics.acc <= 0.8": "b",
            "metrics.acc = 0.8": "b",
            "metrics.acc != 0.8": "ac",
            "metrics.acc > 0.98": "",
            "metrics.missing > 0": "",
            "metrics.`val loss` <= 0.2": "b",
            "params.model = 'lgbm'": "ac",
            'params.model = "rf"': "b",
            "params.model != 'lgbm'": "b",
            "params.model like 'l%'": "ac",
            "params.model LIKE 'r%'": "b",
            "params.depth = 3": "a",
            "params.depth != 3": "b",
            "params.`max depth` = '7'": "a",
            "tags.team = 'risk'": "a",
            "tags.team != 'risk'": "b",
            "tags.note = 'salt and pepper'": "c",
            "status = 'finished'": "a",
            "status = 'running'": "cd",
            "name like 'train-%'": "ab",
            "kind = 'evaluate'": "c",
            "app = 'churn'": "ab",
            "actor = 'bo'": "bd",
            "params.model = 'lgbm' and metrics.acc > 0.9": "a",
            "params.model = 'lgbm' AND status = 'running'": "c",
            "app = 'churn' and tags.team = 'growth' and metrics.acc < 1": "b",
        }
        for text, letters in cases.items():
            found = _letters(runs, store.runs.search(text))
            _expect(found == letters, f"search({text!r}) found runs {found!r}, expected {letters!r}")
            count = store.runs.count(text)
            _expect(count == len(letters), f"count({text!r}) is {count}, expected {len(letters)}")
        scoped = {
            ("", "churn"): "ab",
            ("metrics.acc > 0", "fraud"): "c",
            ("status = 'running'", "churn"): "",
        }
        for (text, app), letters in scoped.items():
            found = _letters(runs, store.runs.search(text, app=app))
            _expect(found == letters, f"search({text!r}, app={app!r}) found {found!r}, expected {letters!r}")
            count = store.runs.count(text, app=app)
            _expect(count == len(letters), f"count({text!r}, app={app!r}) is {count}, expected {len(letters)}")


def check_search_order_and_pages(factory: MetaStoreFactory) -> None:
    """order_by metrics.KEY, name, created and ended in both directions (runs lacking the key last), and
    limit/offset pages that add up to the whole result."""
    with factory() as store:
        names = ["r0", "r1", "r2", "r3", "r4"]
        ids = {store.runs.create(name): name for name in names}
        by_name = {name: run_id for run_id, name in ids.items()}
        for name, acc in zip(names, (0.3, 0.9, 0.1, 0.7), strict=False):
            store.runs.log(by_name[name], metrics=[Metric("acc", acc)])
        store.runs.finish(by_name["r2"])

        def order(order_by: str, text: str = "", limit: int = 100, offset: int = 0) -> list[str]:
            found = store.runs.search(text, order_by=order_by, limit=limit, offset=offset)
            return [ids[run.id] for run in found]

        cases = {
            "metrics.acc desc": ["r1", "r3", "r0", "r2", "r4"],
            "metrics.acc asc": ["r2", "r0", "r3", "r1", "r4"],
            "metrics.acc": ["r2", "r0", "r3", "r1", "r4"],
            "name desc": ["r4", "r3", "r2", "r1", "r0"],
            "name asc": names,
        }
        for order_by, expected in cases.items():
            found = order(order_by)
            _expect(found == expected, f"search(order_by={order_by!r}) gave {found}, expected {expected}")
        for name, loss in (("r0", 0.5), ("r1", 0.2), ("r3", 0.9)):
            store.runs.log(by_name[name], metrics=[Metric("val loss", loss)])
        found = order("metrics.`val loss` asc")
        _expect(found[:3] == ["r1", "r0", "r3"], f"order_by='metrics.`val loss` asc' (a quoted key) gave {found}")
        found = order("ended desc")
        _expect(found[0] == "r2", f"order_by='ended desc' must put the only ended run first, got {found}")
        for direction in ("desc", "asc"):
            times = [run.created_at for run in store.runs.search(order_by=f"created {direction}")]
            wanted = sorted(times, reverse=direction == "desc")
            _expect(times == wanted, f"order_by='created {direction}' gave created_at {times}")
        default = [run.created_at for run in store.runs.search()]
        _expect(default == sorted(default, reverse=True), "search() must list the newest runs first by default")

        top = order("metrics.acc desc", "metrics.acc > 0.2", limit=2)
        _expect(top == ["r1", "r3"], f"filter + order + limit gave {top}, expected ['r1', 'r3']")
        pages = [order("name", limit=2, offset=offset) for offset in (0, 2, 4, 6)]
        _expect(
            pages == [["r0", "r1"], ["r2", "r3"], ["r4"], []],
            f"pages of 2 by name gave {pages}; they must partition the result in order",
        )
        _expect(order("name", limit=0) == [], "limit=0 must return no runs")
        counts = (store.runs.count(), store.runs.count("metrics.acc > 0.5"), store.runs.count("status = 'finished'"))
        _expect(counts == (5, 2, 1), f"count(), count(acc > 0.5), count(finished) gave {counts}, expected (5, 2, 1)")


def check_search_refuses_bad_input(factory: MetaStoreFactory) -> None:
    """Bad filters, orders and pages raise ConfigError with a message that shows the way."""
    with factory() as store:
        store.runs.create("r")
        for text in (
            "metrics.acc >",
            "acc > 0.9",
            "metrics.acc > 0.9 or status = 'finished'",
            "metrics.acc > 'high'",
            "metrics.acc like 0.9",
            "params.model > 3",
            "status = finished",
            "drop table runs",
        ):
            with _raises(ConfigError, f"search({text!r})") as raised:
                store.runs.search(text)
            message = str(raised.value)
            _expect(text in message, f"the message for a bad filter must quote it: {message!r}")
            with _raises(ConfigError, f"count({text!r})"):
                store.runs.count(text)
        with _raises(ConfigError, "search with a malformed clause") as raised:
            store.runs.search("metrics.acc >")
        _expect("Example" in str(raised.value), f"a malformed filter's message must give an example: {raised.value}")
        for order_by in ("accuracy desc", "created sideways", "params.model"):
            with _raises(ConfigError, f"search(order_by={order_by!r})") as raised:
                store.runs.search(order_by=order_by)
            _expect(
                "metrics.KEY" in str(raised.value) or "asc" in str(raised.value),
                f"the message for a bad order_by must say what is accepted: {raised.value}",
            )
        for limit, offset in ((-1, 0), (10, -1)):
            with _raises(ConfigError, f"search(limit={limit}, offset={offset})"):
                store.runs.search(limit=limit, offset=offset)


# --- steps and artifacts -----------------------------------------------------------------------------------


def check_steps(factory: MetaStoreFactory) -> None:
    """Each attempt of a step is a row of its run, with status, attempt, cache key, cached flag and error."""
    with factory() as store:
        run_id = store.runs.create("pipeline")
        other = store.runs.create("other")
        load = store.steps.start(run_id, "load")
        train = store.steps.start(run_id, "train", attempt=1, cache_key="k1")
        store.steps.finish(load)
        store.steps.finish(train, "failed", error="MemoryError")
        retry = store.steps.start(run_id, "train", attempt=2, cache_key="k1")
        store.steps.finish(retry, cached=True)
        _expect(len({load, train, retry}) == 3, "steps.start must return a new id per attempt")

        steps = {step.id: step for step in store.steps.list(run_id)}
        _expect(set(steps) == {load, train, retry}, f"steps.list(run) gave {sorted(steps)}, expected 3 steps")
        rows = {
            sid: (s.run_id, s.name, s.status, s.attempt, s.cache_key, s.cached, s.error) for sid, s in steps.items()
        }
        expected = {
            load: (run_id, "load", "finished", 1, None, False, None),
            train: (run_id, "train", "failed", 1, "k1", False, "MemoryError"),
            retry: (run_id, "train", "finished", 2, "k1", True, None),
        }
        _expect(rows == expected, f"steps stored as {rows}, expected {expected}")
        for step in steps.values():
            _expect(
                step.ended_at is not None and step.ended_at >= step.started_at and step.duration_s is not None,
                f"a finished step needs ended_at >= started_at: {step}",
            )
        listed = store.steps.list(run_id)
        _expect(
            [s.started_at for s in listed] == sorted(s.started_at for s in listed),
            "steps.list must order steps by start time",
        )
        running = store.steps.start(run_id, "deploy")
        step = next(s for s in store.steps.list(run_id) if s.id == running)
        _expect(step.status == "running" and step.ended_at is None, f"a started step is running: {step}")
        _expect(store.steps.list(other) == [], "steps.list of a run without steps must be []")

        with _raises(NotFoundError, "steps.start on an unknown run"):
            store.steps.start("no-such-run", "load")
        with _raises(ConflictError, "steps.start of an attempt already started (two processes resuming a run)"):
            store.steps.start(run_id, "train", attempt=2)
        after = store.steps.start(run_id, "load", attempt=2)
        _expect(after not in (load, train, retry), "the store must still take new attempts after a conflict")
        with _raises(NotFoundError, "steps.finish of an unknown step"):
            store.steps.finish("no-such-step")
        with _raises(ConfigError, "steps.finish with an unknown status"):
            store.steps.finish(running, "done")


def check_artifact_refs(factory: MetaStoreFactory) -> None:
    """Named references to stored content, listed by run and by digest."""
    with factory() as store:
        run_id = store.runs.create("train")
        other = store.runs.create("other")
        step_id = store.steps.start(run_id, "fit")
        ref = store.artifacts.add(
            "model.pkl", DIGEST_A, 123, run_id=run_id, step_id=step_id, media_type="application/x-pickle"
        )
        _expect_fields(
            ref,
            "artifacts.add",
            run_id=run_id,
            step_id=step_id,
            name="model.pkl",
            digest=DIGEST_A,
            size=123,
            media_type="application/x-pickle",
        )
        shared = store.artifacts.add("copy.pkl", DIGEST_A, 123, run_id=other)
        loose = store.artifacts.add("profile.json", DIGEST_B, 7)
        _expect(
            loose.run_id is None and loose.media_type == "application/octet-stream",
            f"an artifact without a run: {loose}",
        )

        def ids(refs: Iterable[ArtifactRef]) -> list[str]:
            return sorted(r.id for r in refs)

        listed = store.artifacts.list(run_id=run_id)
        _expect(len(listed) == 1 and _same_ref(listed[0], ref), f"artifacts.list(run_id) gave {listed}, not [{ref}]")
        cases = {
            "list(digest=A)": (store.artifacts.list(digest=DIGEST_A), [ref.id, shared.id]),
            "list(run_id=other)": (store.artifacts.list(run_id=other), [shared.id]),
            "list(run_id=other, digest=B)": (store.artifacts.list(run_id=other, digest=DIGEST_B), []),
            "list()": (store.artifacts.list(), [ref.id, shared.id, loose.id]),
        }
        for call, (found, expected) in cases.items():
            _expect(ids(found) == sorted(expected), f"artifacts.{call} gave ids {ids(found)}, expected {expected}")
        with _raises(NotFoundError, "artifacts.add to an unknown run"):
            store.artifacts.add("x", DIGEST_A, 1, run_id="no-such-run")
        with _raises(ConfigError, "artifacts.add with an empty name"):
            store.artifacts.add("", DIGEST_A, 1, run_id=run_id)
