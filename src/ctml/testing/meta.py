"""The metadata store conformance suite: the checks every :class:`~ctml.meta.MetaStore` backend must pass.

In the spirit of scikit-learn's ``check_estimator``: each check is a plain function that takes a *factory* — a
callable returning a fresh, empty, open store — and raises ``AssertionError`` saying what was wrong. Each check
asks for its own store and closes it. The same checks run over SQLite and PostgreSQL.

Run them all with :func:`check_meta_store`, or one test per check with pytest::

    @pytest.mark.parametrize("check", META_STORE_CHECKS, ids=lambda check: check.__name__)
    def test_conformance(check, tmp_path):
        names = itertools.count()
        check(lambda: open_meta(f"sqlite:///{tmp_path}/meta-{next(names)}.db"))

>>> import itertools, tempfile
>>> from ctml.meta import open_meta
>>> folder, names = tempfile.mkdtemp(), itertools.count()
>>> check_meta_store(lambda: open_meta(f"sqlite:///{folder}/meta-{next(names)}.db"), [check_apps])
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Generic, TypeVar

from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.meta import ANY_REVISION, AliasMove, ArtifactRef, Edge, MetaStore, Metric, Node, Run

__all__ = [
    "META_STORE_CHECKS",
    "MetaStoreFactory",
    "check_alias_compare_and_set",
    "check_alias_history_and_removal",
    "check_apps",
    "check_artifact_refs",
    "check_datasets",
    "check_decisions_and_audit",
    "check_events",
    "check_fresh_store_is_empty",
    "check_lineage_walks",
    "check_meta_store",
    "check_metric_history_and_latest",
    "check_model_version_lineage",
    "check_model_versions",
    "check_non_finite_metrics_refused",
    "check_params_are_write_once",
    "check_previous_version",
    "check_run_lifecycle",
    "check_search_filters",
    "check_search_order_and_pages",
    "check_search_refuses_bad_input",
    "check_steps",
    "check_version_numbers_under_threads",
]

MetaStoreFactory = Callable[[], MetaStore]
"""Returns a fresh, empty, open store; the check that asked for it closes it."""

_E = TypeVar("_E", bound=BaseException)
_T0 = 1_700_000_000_000  # a fixed time in Unix ms, for metrics logged with explicit times
_DIGEST_A = "a" * 64
_DIGEST_B = "b" * 64


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
            metrics=[Metric("loss", 0.9, 0, _T0), Metric("loss", 0.5, 2, _T0 + 10), Metric("loss", 0.7, 1, _T0 + 20)],
        )
        _expect_latest(store, run_id, "loss", 0.5, "the highest step wins even when a lower step is logged later")
        log(run_id, metrics=[Metric("loss", 0.4, 2, _T0 + 30)])
        _expect_latest(store, run_id, "loss", 0.4, "on the same step the later time wins")
        log(run_id, metrics=[Metric("loss", 0.1, 2, _T0 + 5)])
        _expect_latest(store, run_id, "loss", 0.4, "on the same step an earlier time must not win")
        log(run_id, metrics=[Metric("loss", 0.2, 1, _T0 + 100)])
        _expect_latest(store, run_id, "loss", 0.4, "a lower step logged later must not win")

        history = [(p.step, p.value, p.at) for p in store.runs.metric_history(run_id, "loss")]
        expected = [(0, 0.9, 0), (1, 0.7, 20), (1, 0.2, 100), (2, 0.1, 5), (2, 0.5, 10), (2, 0.4, 30)]
        wanted = [(step, value, _at(offset)) for step, value, offset in expected]
        _expect(history == wanted, f"metric_history must keep every point ordered by (step, time): {history}")

        log(run_id, metrics=[Metric("acc", 0.1, 5, _T0), Metric("acc", 0.2, 3, _T0 + 1)])
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
            "model.pkl", _DIGEST_A, 123, run_id=run_id, step_id=step_id, media_type="application/x-pickle"
        )
        _expect_fields(
            ref,
            "artifacts.add",
            run_id=run_id,
            step_id=step_id,
            name="model.pkl",
            digest=_DIGEST_A,
            size=123,
            media_type="application/x-pickle",
        )
        shared = store.artifacts.add("copy.pkl", _DIGEST_A, 123, run_id=other)
        loose = store.artifacts.add("profile.json", _DIGEST_B, 7)
        _expect(
            loose.run_id is None and loose.media_type == "application/octet-stream",
            f"an artifact without a run: {loose}",
        )

        def ids(refs: Iterable[ArtifactRef]) -> list[str]:
            return sorted(r.id for r in refs)

        listed = store.artifacts.list(run_id=run_id)
        _expect(len(listed) == 1 and _same_ref(listed[0], ref), f"artifacts.list(run_id) gave {listed}, not [{ref}]")
        cases = {
            "list(digest=A)": (store.artifacts.list(digest=_DIGEST_A), [ref.id, shared.id]),
            "list(run_id=other)": (store.artifacts.list(run_id=other), [shared.id]),
            "list(run_id=other, digest=B)": (store.artifacts.list(run_id=other, digest=_DIGEST_B), []),
            "list()": (store.artifacts.list(), [ref.id, shared.id, loose.id]),
        }
        for call, (found, expected) in cases.items():
            _expect(ids(found) == sorted(expected), f"artifacts.{call} gave ids {ids(found)}, expected {expected}")
        with _raises(NotFoundError, "artifacts.add to an unknown run"):
            store.artifacts.add("x", _DIGEST_A, 1, run_id="no-such-run")
        with _raises(ConfigError, "artifacts.add with an empty name"):
            store.artifacts.add("", _DIGEST_A, 1, run_id=run_id)


# --- models and aliases ------------------------------------------------------------------------------------


def check_model_versions(factory: MetaStoreFactory) -> None:
    """Versions are numbered 1..n per model, read back by number, listed newest first; each is audited."""
    with factory() as store:
        run_id = store.runs.create("train")
        first = store.models.create_version(
            "churn",
            app="churn-app",
            run_id=run_id,
            artifact_digest=_DIGEST_A,
            flavor="sklearn",
            metrics={"auc": 0.8},
            meta={"size_bytes": 10, "features": ["a", "b"]},
            actor="ana",
        )
        more = [store.models.create_version("churn").version for _ in range(3)]
        fraud = store.models.create_version("fraud", app="fraud-app")
        numbers = [first.version, *more, fraud.version]
        _expect(numbers == [1, 2, 3, 4, 1], f"versions numbered {numbers}, expected [1, 2, 3, 4] and [1] per model")

        got = store.models.get_version("churn", 1)
        _expect_fields(
            got,
            "models.get_version('churn', 1)",
            id=first.id,
            model="churn",
            version=1,
            run_id=run_id,
            artifact_digest=_DIGEST_A,
            flavor="sklearn",
            metrics={"auc": 0.8},
            meta={"size_bytes": 10, "features": ["a", "b"]},
            actor="ana",
        )
        _expect(_same_ms(got.created_at, first.created_at), f"created_at {got.created_at} != {first.created_at}")
        listed = [v.version for v in store.models.versions("churn")]
        _expect(listed == [4, 3, 2, 1], f"models.versions('churn') gave {listed}, expected newest first [4, 3, 2, 1]")
        page = [v.version for v in store.models.versions("churn", limit=2, offset=1)]
        _expect(page == [3, 2], f"models.versions(limit=2, offset=1) gave {page}, expected [3, 2]")
        _expect(store.models.versions("nope") == [], "models.versions of an unknown model must be []")

        summary = [(model.name, model.app, n) for model, n in store.models.list()]
        expected = [("churn", "churn-app", 4), ("fraud", "fraud-app", 1)]
        _expect(summary == expected, f"models.list() gave {summary}, expected {expected}")
        scoped = [model.name for model, _ in store.models.list(app="fraud-app")]
        _expect(scoped == ["fraud"], f"models.list(app='fraud-app') gave {scoped}")

        for model, version in (("churn", 9), ("nope", 1)):
            with _raises(NotFoundError, f"models.get_version({model!r}, {version})"):
                store.models.get_version(model, version)
        for bad in ("", "bad@name"):
            with _raises(ConfigError, f"models.create_version({bad!r})"):
                store.models.create_version(bad)

        audited = {(e.action, e.entity_id, e.actor) for e in store.audit.list(entity_kind="model_version", limit=1000)}
        wanted = {("model.register", "churn/1", "ana")} | {("model.register", f"churn/{n}", "unknown") for n in more}
        _expect(wanted <= audited, f"each new version needs a 'model.register' audit entry; audit has {audited}")


def check_version_numbers_under_threads(factory: MetaStoreFactory) -> None:
    """Threads registering versions of one model at once get distinct numbers with no gaps."""
    with factory() as store:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(store.models.create_version, "shared", actor=f"t{i}") for i in range(24)]
            numbers = sorted(future.result().version for future in futures)
        _expect(numbers == list(range(1, 25)), f"concurrent create_version gave numbers {numbers}, expected 1..24")
        stored = sorted(v.version for v in store.models.versions("shared"))
        _expect(stored == numbers, f"stored versions {stored} differ from the ones returned {numbers}")


def check_alias_compare_and_set(factory: MetaStoreFactory) -> None:
    """An alias moves only if its revision is still the expected one (0: never set); a lost compare-and-set
    raises ConflictError and changes nothing — not the alias, its history, nor the audit log."""
    with factory() as store:
        models = store.models
        for _ in range(3):
            models.create_version("m")
        target = models.set_alias("m", "champion", 1, expected_revision=0, actor="ana", reason="first")
        _expect_fields(target, "set_alias(expected_revision=0)", model="m", alias="champion", version=1, revision=1)
        got = models.get_alias("m", "champion")
        _expect((got.version, got.revision) == (1, 1), f"get_alias after the first move gave {got}")

        def unchanged(what: str, version: int, revision: int) -> None:
            now = models.get_alias("m", "champion")
            moves = len(models.alias_history("m", "champion"))
            audited = len(store.audit.list(entity_kind="alias", entity_id="m@champion"))
            _expect(
                (now.version, now.revision, moves, audited) == (version, revision, revision, revision),
                f"{what} changed state: alias v{now.version} rev {now.revision}, {moves} history rows, "
                f"{audited} audit entries; expected v{version} rev {revision} and {revision} of each",
            )

        with _raises(ConflictError, "set_alias(expected_revision=0) on an alias that is set"):
            models.set_alias("m", "champion", 2, expected_revision=0)
        unchanged("a create-only set_alias on a set alias", 1, 1)

        target = models.set_alias("m", "champion", 2, expected_revision=1)
        _expect((target.version, target.revision) == (2, 2), f"a winning compare-and-set returned {target}")
        for stale in (1, 0, 5):
            with _raises(ConflictError, f"set_alias(expected_revision={stale}) at revision 2") as raised:
                models.set_alias("m", "champion", 3, expected_revision=stale)
            _expect("m@champion" in str(raised.value), f"the conflict must name the alias: {raised.value}")
            unchanged(f"a lost compare-and-set (expected {stale})", 2, 2)

        target = models.set_alias("m", "champion", 3, expected_revision=ANY_REVISION)
        _expect((target.version, target.revision) == (3, 3), f"set_alias(ANY_REVISION) returned {target}")
        with _raises(NotFoundError, "set_alias to a version that does not exist"):
            models.set_alias("m", "champion", 9)
        with _raises(NotFoundError, "set_alias on a model that does not exist"):
            models.set_alias("nope", "champion", 1)
        with _raises(ConfigError, "set_alias with '@' in the alias"):
            models.set_alias("m", "bad@alias", 1)
        unchanged("refused set_alias calls", 3, 3)

        challenger = models.set_alias("m", "challenger", 1, expected_revision=0)
        _expect(challenger.revision == 1, f"another alias of the model counts its own revisions: {challenger}")
        listed = [(a.alias, a.version, a.revision) for a in models.aliases("m")]
        expected = [("challenger", 1, 1), ("champion", 3, 3)]
        _expect(listed == expected, f"models.aliases('m') gave {listed}, expected {expected}")
        with _raises(NotFoundError, "get_alias of an alias never set"):
            models.get_alias("m", "canary")


def check_alias_history_and_removal(factory: MetaStoreFactory) -> None:
    """Every move (removal with None included) is in the history, newest first, revisions without gaps, each
    move starting where the one before ended; revisions continue after a removal."""
    with factory() as store:
        models = store.models
        models.create_version("m")
        models.create_version("m")
        models.set_alias("m", "champion", 1, expected_revision=0, actor="ana", reason="first")
        models.set_alias("m", "champion", 2, expected_revision=1, actor="bo", reason="better")
        removed = models.set_alias("m", "champion", None, expected_revision=2, actor="ana", reason="incident")
        _expect(removed.version is None and removed.revision == 3, f"set_alias(None) must remove the alias: {removed}")
        with _raises(NotFoundError, "get_alias of a removed alias"):
            models.get_alias("m", "champion")
        _expect(models.aliases("m") == [], f"models.aliases lists a removed alias: {models.aliases('m')}")
        with _raises(NotFoundError, "set_alias(None) of an alias never set"):
            models.set_alias("m", "canary", None)
        again = models.set_alias("m", "champion", 1, expected_revision=3, actor="bo", reason="restore")
        _expect(again.revision == 4, f"revisions must continue after a removal, got {again.revision}, expected 4")
        models.set_alias("m", "challenger", 2, actor="ci")

        history = models.alias_history("m", "champion")
        moves = [(h.revision, h.from_version, h.to_version, h.actor, h.reason) for h in history]
        expected = [
            (4, None, 1, "bo", "restore"),
            (3, 2, None, "ana", "incident"),
            (2, 1, 2, "bo", "better"),
            (1, None, 1, "ana", "first"),
        ]
        _expect(moves == expected, f"alias_history('m', 'champion') gave {moves}, expected {expected}")
        _expect_chain(history, "m@champion")
        _expect(all(h.model == "m" and h.alias == "champion" for h in history), "history rows name the wrong alias")
        everything = [(h.alias, h.revision) for h in models.alias_history("m")]
        _expect(
            everything[0] == ("challenger", 1)
            and sorted(everything) == sorted([("challenger", 1)] + [("champion", r) for r in (1, 2, 3, 4)]),
            f"alias_history('m') must list every alias's moves, newest first: {everything}",
        )
        newest = [h.revision for h in models.alias_history("m", "champion", limit=2)]
        _expect(newest == [4, 3], f"alias_history(limit=2) gave revisions {newest}, expected [4, 3]")
        _expect(models.alias_history("nope") == [], "alias_history of an unknown model must be []")


def check_previous_version(factory: MetaStoreFactory) -> None:
    """previous_version names the version an alias pointed at before its current one ("the previous
    champion"), skipping moves that did not change the version."""
    with factory() as store:
        models = store.models
        for _ in range(3):
            models.create_version("m")
        steps: list[tuple[int, int | None]] = [(1, None), (2, 1), (3, 2), (3, 2), (2, 3)]
        for version, previous in steps:
            models.set_alias("m", "champion", version)
            found = models.previous_version("m", "champion")
            _expect(
                found == previous,
                f"after moving champion to v{version} previous_version is {found}, expected {previous} "
                f"(history: {[(h.from_version, h.to_version) for h in models.alias_history('m', 'champion')]})",
            )
        with _raises(NotFoundError, "previous_version of an alias never set"):
            models.previous_version("m", "canary")


# --- lineage and datasets ----------------------------------------------------------------------------------


def check_lineage_walks(factory: MetaStoreFactory) -> None:
    """Edges are walked upstream and downstream over several hops, bounded by depth; an edge recorded twice
    is stored once; cycles end."""
    with factory() as store:
        lineage = store.lineage
        data, run, model, deploy = (
            Node("dataset_version", "ds1"),
            Node("run", "r1"),
            Node("model_version", "m/1"),
            Node("deployment", "dep1"),
        )
        code = Node("artifact", _DIGEST_A)
        lineage.add(data, run, "input")
        lineage.add(code, run, "input")
        lineage.add(run, model, "produced")
        lineage.add(model, deploy, "deployed")
        lineage.add(run, model, "produced")  # the same edge again: stored once
        everything = {
            (data, run, "input"),
            (code, run, "input"),
            (run, model, "produced"),
            (model, deploy, "deployed"),
        }

        def walk(found: list[Edge], what: str) -> set[tuple[Node, Node, str]]:
            edges = [(e.src, e.dst, e.relation) for e in found]
            _expect(len(edges) == len(set(edges)), f"{what} returned an edge twice: {edges}")
            return set(edges)

        cases = {
            "upstream(deployment)": (lineage.upstream(deploy), everything),
            "upstream(deployment, depth=1)": (lineage.upstream(deploy, depth=1), {(model, deploy, "deployed")}),
            "upstream(model_version, depth=2)": (
                lineage.upstream(model, depth=2),
                {(run, model, "produced"), (data, run, "input"), (code, run, "input")},
            ),
            "downstream(dataset_version)": (
                lineage.downstream(data),
                {(data, run, "input"), (run, model, "produced"), (model, deploy, "deployed")},
            ),
            "downstream(artifact, depth=2)": (
                lineage.downstream(code, depth=2),
                {(code, run, "input"), (run, model, "produced")},
            ),
            "downstream(deployment)": (lineage.downstream(deploy), set()),
            "upstream(dataset_version)": (lineage.upstream(data), set()),
        }
        for what, (found, expected) in cases.items():
            edges = walk(found, what)
            _expect(edges == expected, f"lineage.{what} gave {_show(edges)}, expected {_show(expected)}")

        first, second = Node("run", "loop-a"), Node("run", "loop-b")
        lineage.add(first, second)
        lineage.add(second, first)
        loop = walk(lineage.downstream(first), "downstream in a cycle")
        _expect(loop == {(first, second, "input"), (second, first, "input")}, f"a cycle walked to {_show(loop)}")
        for call in (lambda: lineage.add(Node("bogus", "x"), run), lambda: lineage.upstream(Node("bogus", "x"))):
            with _raises(ConfigError, "a lineage node of unknown kind"):
                call()


def check_model_version_lineage(factory: MetaStoreFactory) -> None:
    """create_version(run_id, sources) links the run ('produced') and each source ('input') to the version."""
    with factory() as store:
        run_id = store.runs.create("train")
        dataset, _ = store.datasets.add_version("sales", _DIGEST_A, 10)
        data = Node("dataset_version", dataset.id)
        store.models.create_version("m", run_id=run_id, sources=[data])
        first = Node("model_version", "m/1")
        edges = {(e.src, e.dst, e.relation) for e in store.lineage.upstream(first)}
        expected = {(Node("run", run_id), first, "produced"), (data, first, "input")}
        _expect(edges == expected, f"upstream of m/1 is {_show(edges)}, expected {_show(expected)}")
        down = {e.dst for e in store.lineage.downstream(data)}
        _expect(first in down, f"downstream of the dataset version must reach m/1, got {sorted(down)}")

        other = store.runs.create("train-2")
        store.models.create_version("m", run_id=other, sources=[Node("run", other), data, data])
        second = Node("model_version", "m/2")
        edges = {(e.src, e.dst, e.relation) for e in store.lineage.upstream(second)}
        expected = {(Node("run", other), second, "produced"), (data, second, "input")}
        _expect(edges == expected, f"sources repeating the run or a node must add each edge once: {_show(edges)}")
        store.models.create_version("m")
        _expect(store.lineage.upstream(Node("model_version", "m/3")) == [], "a version with no sources has no edges")


def check_datasets(factory: MetaStoreFactory) -> None:
    """Dataset versions are numbered per dataset; the same digest returns the stored version (not new);
    parents become 'derived' lineage edges."""
    with factory() as store:
        datasets = store.datasets
        first, new = datasets.add_version(
            "sales",
            _DIGEST_A,
            100,
            artifact_digest=_DIGEST_B,
            schema={"x": "float"},
            source={"glob": "data/*.parquet"},
            time_min="2024-01-01",
            time_max="2024-01-31",
        )
        _expect(new, "the first add_version of a digest must say it is new")
        _expect_fields(
            first,
            "datasets.add_version",
            dataset="sales",
            version=1,
            digest=_DIGEST_A,
            artifact_digest=_DIGEST_B,
            rows=100,
            schema={"x": "float"},
            profile=None,
            source={"glob": "data/*.parquet"},
            time_min="2024-01-01",
            time_max="2024-01-31",
        )
        again, new = datasets.add_version("sales", _DIGEST_A, 999)
        _expect(not new, "add_version of a digest already stored must say it is not new")
        _expect(
            again.id == first.id and again.version == 1 and again.rows == 100,
            f"add_version of a stored digest must return the stored version unchanged, got {again}",
        )
        second, new = datasets.add_version("sales", "c" * 64, 50, parents=[first.id, first.id])
        _expect(new and second.version == 2, f"a new digest must be version 2 and new, got v{second.version}, {new}")
        elsewhere, new = datasets.add_version("other", _DIGEST_A, 100)
        _expect(
            new and elsewhere.version == 1 and elsewhere.id != first.id,
            f"numbering and identity are per dataset; 'other' got v{elsewhere.version}, new={new}",
        )

        up = [(e.src, e.dst, e.relation) for e in store.lineage.upstream(Node("dataset_version", second.id))]
        derived = [(Node("dataset_version", first.id), Node("dataset_version", second.id), "derived")]
        _expect(up == derived, f"parents must become one 'derived' edge each: {up}")
        down = {e.dst.id for e in store.lineage.downstream(Node("dataset_version", first.id))}
        _expect(down == {second.id}, f"downstream of the parent gave {down}")

        got = datasets.get(first.id)
        _expect(got.id == first.id and got.digest == _DIGEST_A and got.rows == 100, f"datasets.get gave {got}")
        listed = [(d.dataset, d.version) for d in datasets.list("sales")]
        _expect(listed == [("sales", 2), ("sales", 1)], f"datasets.list('sales') gave {listed}, newest first")
        _expect(len(datasets.list()) == 3, f"datasets.list() gave {len(datasets.list())} versions, expected 3")
        _expect(len(datasets.list("sales", limit=1)) == 1, "datasets.list(limit=1) must return one version")
        datasets.set_profile(first.id, {"columns": {"x": {"mean": 1.5}}})
        profile = datasets.get(first.id).profile
        _expect(profile == {"columns": {"x": {"mean": 1.5}}}, f"set_profile stored {profile}")
        with _raises(NotFoundError, "datasets.get of an unknown id"):
            datasets.get("no-such-version")
        with _raises(NotFoundError, "datasets.set_profile of an unknown id"):
            datasets.set_profile("no-such-version", {})
        with _raises(ConfigError, "datasets.add_version with an empty name"):
            datasets.add_version("", _DIGEST_A, 1)


# --- events, decisions, audit, apps ------------------------------------------------------------------------


def check_events(factory: MetaStoreFactory) -> None:
    """Appending an event id twice stores it once (the first payload wins); consumers read after a seq, by
    kind and app, oldest first."""
    with factory() as store:
        events = store.events
        _expect(events.append("e1", "data.arrived", {"rows": 10}, app="churn") is True, "a new event must append")
        _expect(
            events.append("e1", "data.arrived", {"rows": 99}, app="churn") is False,
            "appending an event id already stored must return False (idempotent producers)",
        )
        events.append("e2", "drift", {"psi": 0.3}, app="churn")
        events.append("e3", "data.arrived", {}, app="fraud")
        stored = events.read()
        _expect([e.id for e in stored] == ["e1", "e2", "e3"], f"events.read() gave {[e.id for e in stored]}")
        seqs = [e.seq for e in stored]
        _expect(seqs == sorted(set(seqs)), f"event seqs must increase strictly: {seqs}")
        first = stored[0]
        _expect(
            (first.kind, first.app, first.payload) == ("data.arrived", "churn", {"rows": 10}),
            f"the first delivery of an event must be kept: {first}",
        )
        cases = {
            "read(after=first seq)": (events.read(after=seqs[0]), ["e2", "e3"]),
            "read(after=last seq)": (events.read(after=seqs[-1]), []),
            "read(kind='data.arrived')": (events.read(kind="data.arrived"), ["e1", "e3"]),
            "read(app='churn')": (events.read(app="churn"), ["e1", "e2"]),
            "read(kind='data.arrived', app='fraud')": (events.read(kind="data.arrived", app="fraud"), ["e3"]),
            "read(limit=2)": (events.read(limit=2), ["e1", "e2"]),
        }
        for what, (found, expected) in cases.items():
            _expect([e.id for e in found] == expected, f"events.{what} gave {[e.id for e in found]}, not {expected}")
        with _raises(ConfigError, "events.append with an empty id"):
            events.append("", "drift", {})


def check_decisions_and_audit(factory: MetaStoreFactory) -> None:
    """Decisions keep their evidence and each writes an audit entry; so does every alias move; audit entries
    are listed newest first."""
    with factory() as store:
        run_id = store.runs.create("train")
        gate = store.decisions.record(
            "gate",
            "promote",
            "challenger beats champion",
            {"p_value": 0.01, "delta": 0.02, "slices": ["a", "b"]},
            app="churn",
            run_id=run_id,
            model="m",
            version=2,
            actor="ctml",
        )
        trigger = store.decisions.record("trigger", "retrain", "drift on x", {"psi": 0.3}, app="fraud")
        stored = {d.id: d for d in store.decisions.list()}
        _expect(set(stored) == {gate.id, trigger.id}, f"decisions.list() gave {sorted(stored)}")
        _expect_fields(
            stored[gate.id],
            "the stored gate decision",
            app="churn",
            kind="gate",
            outcome="promote",
            summary="challenger beats champion",
            evidence={"p_value": 0.01, "delta": 0.02, "slices": ["a", "b"]},
            run_id=run_id,
            model="m",
            version=2,
            actor="ctml",
        )
        cases = {
            "list(app='churn')": (store.decisions.list(app="churn"), [gate.id]),
            "list(kind='trigger')": (store.decisions.list(kind="trigger"), [trigger.id]),
            "list(run_id=run)": (store.decisions.list(run_id=run_id), [gate.id]),
        }
        for what, (found, expected) in cases.items():
            _expect([d.id for d in found] == expected, f"decisions.{what} gave {[d.id for d in found]}")
        _expect(len(store.decisions.list(limit=1)) == 1, "decisions.list(limit=1) must return one decision")

        entries = store.audit.list(entity_kind="decision", entity_id=gate.id)
        _expect(len(entries) == 1, f"a decision must write exactly one audit entry, found {entries}")
        _expect_fields(
            entries[0],
            "the gate decision's audit entry",
            actor="ctml",
            action="decision.gate",
            entity_kind="decision",
            entity_id=gate.id,
            reason="challenger beats champion",
        )
        _expect(entries[0].detail.get("outcome") == "promote", f"the audit detail must name the outcome: {entries}")

        store.models.create_version("m")
        store.models.create_version("m")
        store.models.set_alias("m", "champion", 1, actor="ana", reason="first")
        store.models.set_alias("m", "champion", 2, expected_revision=1, actor="bo", reason="better")
        store.models.set_alias("m", "champion", None, actor="ana", reason="incident")
        with _raises(ConflictError, "a stale compare-and-set"):
            store.models.set_alias("m", "champion", 1, expected_revision=1)
        moves = store.audit.list(entity_kind="alias", entity_id="m@champion")
        audited = [(e.action, e.actor, e.reason, e.detail) for e in moves]
        wanted = [
            ("alias.move", "ana", "incident", {"from_version": 2, "to_version": None, "revision": 3}),
            ("alias.move", "bo", "better", {"from_version": 1, "to_version": 2, "revision": 2}),
            ("alias.move", "ana", "first", {"from_version": None, "to_version": 1, "revision": 1}),
        ]
        _expect(audited == wanted, f"every alias move needs one audit entry, newest first: {audited}")

        store.audit.record("ana", "app.pause", "app", "churn", "maintenance", {"until": "noon"})
        newest = store.audit.list(limit=1)
        _expect(
            len(newest) == 1 and (newest[0].action, newest[0].detail) == ("app.pause", {"until": "noon"}),
            f"audit.list(limit=1) must return the newest entry: {newest}",
        )
        seqs = [e.seq for e in store.audit.list(limit=1000)]
        _expect(seqs == sorted(set(seqs), reverse=True), f"audit seqs must be unique and listed newest first: {seqs}")


def check_apps(factory: MetaStoreFactory) -> None:
    """put creates an app or replaces its spec (keeping created_at); apps are listed by name."""
    with factory() as store:
        first = store.apps.put("churn", {"model": "lgbm", "gate": {"alpha": 0.05}})
        _expect(
            first.name == "churn" and first.spec == {"model": "lgbm", "gate": {"alpha": 0.05}},
            f"apps.put returned {first}",
        )
        replaced = store.apps.put("churn", {"model": "rf"})
        _expect(replaced.spec == {"model": "rf"}, f"a second put must replace the spec, got {replaced.spec}")
        _expect(
            replaced.created_at == first.created_at and replaced.updated_at >= first.updated_at,
            f"a second put must keep created_at and move updated_at: {first} then {replaced}",
        )
        store.apps.put("fraud")
        _expect(store.apps.get("fraud").spec is None, "an app put without a spec has spec None")
        names = [app.name for app in store.apps.list()]
        _expect(names == ["churn", "fraud"], f"apps.list() gave {names}, expected ['churn', 'fraud']")
        _expect(store.apps.get("churn") == replaced, "apps.get must return what the last put returned")
        with _raises(NotFoundError, "apps.get of an unknown app"):
            store.apps.get("nope")
        with _raises(ConfigError, "apps.put with an empty name"):
            store.apps.put("")


META_STORE_CHECKS: tuple[Callable[[MetaStoreFactory], None], ...] = (
    check_fresh_store_is_empty,
    check_run_lifecycle,
    check_params_are_write_once,
    check_metric_history_and_latest,
    check_non_finite_metrics_refused,
    check_search_filters,
    check_search_order_and_pages,
    check_search_refuses_bad_input,
    check_steps,
    check_artifact_refs,
    check_model_versions,
    check_version_numbers_under_threads,
    check_alias_compare_and_set,
    check_alias_history_and_removal,
    check_previous_version,
    check_lineage_walks,
    check_model_version_lineage,
    check_datasets,
    check_events,
    check_decisions_and_audit,
    check_apps,
)
"""Every check, in a stable order; parametrize over it to get one test per check."""


def check_meta_store(
    factory: MetaStoreFactory, checks: Sequence[Callable[[MetaStoreFactory], None]] = META_STORE_CHECKS
) -> None:
    """Run ``checks`` (all of them by default); the first failure propagates, noting which check it was."""
    for check in checks:
        try:
            check(factory)
        except Exception as exc:
            exc.add_note(f"in metadata store check {check.__name__}")
            raise


# --- helpers -----------------------------------------------------------------------------------------------


class _Raised(Generic[_E]):
    value: _E


@contextmanager
def _raises(kind: type[_E], what: str) -> Iterator[_Raised[_E]]:
    """Like ``pytest.raises``, without needing pytest at run time."""
    raised = _Raised[_E]()
    try:
        yield raised
    except kind as exc:
        raised.value = exc
        return
    except Exception as exc:
        raise AssertionError(f"{what} should raise {kind.__name__}, but it raised {exc!r}") from exc
    raise AssertionError(f"{what} should raise {kind.__name__}, but it returned normally")


def _expect(condition: bool, message: str) -> None:
    # Not `assert`: the suite must keep checking under `python -O`.
    if not condition:
        raise AssertionError(message)


def _expect_fields(record: object, what: str, **expected: object) -> None:
    wrong = {
        name: (getattr(record, name, "<missing>"), value)
        for name, value in expected.items()
        if getattr(record, name, "<missing>") != value
    }
    _expect(not wrong, f"{what}: fields differ (field: (got, expected)): {wrong}")


def _expect_latest(store: MetaStore, run_id: str, key: str, value: float, rule: str) -> None:
    latest = store.runs.get(run_id).metrics.get(key)
    history = [(p.step, p.value) for p in store.runs.metric_history(run_id, key)]
    _expect(latest == value, f"metric {key!r} is {latest}, expected {value}: {rule} (history {history})")


def _expect_chain(history: list[AliasMove], alias: str) -> None:
    """Newest-first moves have revisions n..1 and each starts where the previous one ended."""
    oldest_first = list(reversed(history))
    revisions = [move.revision for move in oldest_first]
    _expect(revisions == list(range(1, len(history) + 1)), f"{alias} history revisions are {revisions}, not 1..n")
    for before, after in itertools.pairwise(oldest_first):
        _expect(
            after.from_version == before.to_version,
            f"{alias} revision {after.revision} moved from v{after.from_version}, but revision {before.revision} "
            f"had left it at v{before.to_version}: a lost update",
        )


def _at(offset_ms: int) -> datetime:
    return datetime.fromtimestamp((_T0 + offset_ms) / 1000, tz=UTC)


def _same_ms(a: datetime, b: datetime) -> bool:
    return int(a.timestamp() * 1000) == int(b.timestamp() * 1000)


def _same_ref(a: ArtifactRef, b: ArtifactRef) -> bool:
    # Stored times have millisecond precision; the returned record carries the clock's full precision.
    return a == dataclasses.replace(b, created_at=a.created_at) and _same_ms(a.created_at, b.created_at)


def _show(edges: Iterable[tuple[Node, Node, str]]) -> list[str]:
    return sorted(f"{src} -[{relation}]-> {dst}" for src, dst, relation in edges)


def _search_corpus(store: MetaStore) -> dict[str, str]:
    """Four runs that the filter cases tell apart; returns {run id: letter}."""
    runs = store.runs
    a = runs.create(
        "train-a",
        app="churn",
        kind="train",
        actor="ana",
        params={"model": "lgbm", "depth": 3, "max depth": "7"},
        tags={"team": "risk"},
    )
    runs.log(a, metrics=[Metric("acc", 0.5, 0), Metric("acc", 0.95, 1)])
    runs.finish(a)
    b = runs.create(
        "train-b", app="churn", kind="train", actor="bo", params={"model": "rf", "depth": 5}, tags={"team": "growth"}
    )
    runs.log(b, metrics=[Metric("acc", 0.8), Metric("val loss", 0.2)])
    runs.finish(b, "failed", error="boom")
    c = runs.create(
        "eval-c", app="fraud", kind="evaluate", actor="ana", params={"model": "lgbm"}, tags={"note": "salt and pepper"}
    )
    runs.log(c, metrics=[Metric("acc", 0.99, 0), Metric("acc", 0.85, 1)])  # latest is 0.85, not the max
    d = runs.create("prep-d", actor="bo")
    return {a: "a", b: "b", c: "c", d: "d"}


def _letters(ids: dict[str, str], found: list[Run]) -> str:
    return "".join(sorted(ids.get(run.id, "?") for run in found))
