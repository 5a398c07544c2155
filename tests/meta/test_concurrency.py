"""Many processes writing one store at once: no lost alias update, no lost metric or run.

Workers run in fresh interpreters (the 'spawn' start method) and open the store by URL, as separate hosts or
separate ``ctml`` commands would. A barrier releases them together so their writes really overlap.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import Counter
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest

from ctml.errors import ConflictError
from ctml.meta import MetaStore, Metric, open_meta, schema_status

pytestmark = pytest.mark.slow

WORKERS = 8
MOVES = 25


def _run_workers(target: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    """Start one spawned process per args tuple (each gets the barrier and a result queue first)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(args))
    results = context.Queue()
    processes = [context.Process(target=target, args=(barrier, results, *a)) for a in args]
    for process in processes:
        process.start()
    try:
        collected = [results.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    failures = [item for item in collected if isinstance(item, str)]
    assert not failures, "\n".join(failures)
    assert [process.exitcode for process in processes] == [0] * len(processes)
    return collected


def move_aliases(barrier: Barrier, results: Any, url: str, actor: str) -> None:
    """MOVES times each: flip m@champion by compare-and-set, retrying lost races, and set m@canary blindly
    (ANY_REVISION) to v1 and v2 in turn."""
    try:
        with open_meta(url) as store:
            barrier.wait(timeout=60)
            conflicts = 0
            for done in range(MOVES):
                store.models.set_alias("m", "canary", 1 + done % 2, actor=actor, reason=f"blind {done}")
                while True:
                    current = store.models.get_alias("m", "champion")
                    target = 1 if current.version == 2 else 2
                    try:
                        store.models.set_alias(
                            "m", "champion", target, expected_revision=current.revision, actor=actor, reason=f"{done}"
                        )
                        break
                    except ConflictError:
                        conflicts += 1
        results.put((actor, conflicts))
    except BaseException as exc:  # report it to the parent instead of dying silently
        results.put(f"{actor}: {exc!r}")
        raise


def _expect_complete_history(store: MetaStore, alias: str, flips: bool) -> None:
    history = store.models.alias_history("m", alias, limit=10_000)
    total = WORKERS * MOVES + 1
    assert len(history) == total, f"m@{alias}: {len(history)} moves recorded, expected {total}"
    oldest_first = list(reversed(history))
    revisions = [move.revision for move in oldest_first]
    assert sorted(revisions) == list(range(1, total + 1)), f"m@{alias}: revisions have gaps or repeats"
    assert revisions == list(range(1, total + 1)), f"m@{alias}: history must list moves newest first"
    for before, after in itertools.pairwise(oldest_first):
        assert after.from_version == before.to_version, (
            f"m@{alias} lost an update: revision {after.revision} by {after.actor} moved from "
            f"v{after.from_version}, but revision {before.revision} by {before.actor} had left it at "
            f"v{before.to_version}"
        )
        assert not flips or after.from_version != after.to_version, "each compare-and-set move flips the alias"
    assert Counter(move.actor for move in history) == {"setup": 1, **{f"w{i}": MOVES for i in range(WORKERS)}}
    final = store.models.get_alias("m", alias)
    assert (final.revision, final.version) == (total, history[0].to_version)
    audited = store.audit.list(entity_kind="alias", entity_id=f"m@{alias}", limit=10_000)
    assert [entry.detail["revision"] for entry in audited] == list(range(total, 0, -1))


def test_concurrent_alias_moves_lose_no_update(backend_url: str) -> None:
    with open_meta(backend_url) as store:
        store.models.create_version("m")
        store.models.create_version("m")
        store.models.set_alias("m", "champion", 1, expected_revision=0, actor="setup")
        store.models.set_alias("m", "canary", 1, expected_revision=0, actor="setup")

    _run_workers(move_aliases, [(backend_url, f"w{i}") for i in range(WORKERS)])

    with open_meta(backend_url) as store:
        _expect_complete_history(store, "champion", flips=True)
        _expect_complete_history(store, "canary", flips=False)


RUNS = 3
BATCHES = 15
POINTS = 4


def log_metrics(barrier: Barrier, results: Any, url: str, worker: int, shared_run: str) -> None:
    """Create RUNS runs and log BATCHES batches to each, plus batches to one run all workers share."""
    try:
        with open_meta(url) as store:
            barrier.wait(timeout=60)
            for r in range(RUNS):
                run_id = store.runs.create(f"w{worker}-r{r}", params={"worker": worker}, tags={"w": str(worker)})
                for b in range(BATCHES):
                    points = [Metric("loss", 1.0 / (1 + b * POINTS + p), b * POINTS + p) for p in range(POINTS)]
                    store.runs.log(run_id, metrics=points)
                    step = worker * 1000 + r * BATCHES + b
                    store.runs.log(shared_run, metrics=[Metric("shared", float(step), step), Metric(f"w{worker}", b)])
                store.runs.finish(run_id)
        results.put(worker)
    except BaseException as exc:
        results.put(f"worker {worker}: {exc!r}")
        raise


def test_concurrent_logging_keeps_every_row(sqlite_url: str) -> None:
    workers = 4
    with open_meta(sqlite_url) as store:
        shared = store.runs.create("shared")

    _run_workers(log_metrics, [(sqlite_url, w, shared) for w in range(workers)])

    with open_meta(sqlite_url) as store:
        assert store.runs.count() == workers * RUNS + 1
        assert store.runs.count("status = 'finished'") == workers * RUNS
        for w in range(workers):
            mine = store.runs.search(f"params.worker = {w} and tags.w = '{w}'")
            assert len(mine) == RUNS
            for run in mine:
                history = store.runs.metric_history(run.id, "loss")
                assert [p.step for p in history] == list(range(BATCHES * POINTS))
                assert run.metrics["loss"] == pytest.approx(1.0 / (BATCHES * POINTS))
        steps = [p.step for p in store.runs.metric_history(shared, "shared")]
        expected = sorted(w * 1000 + i for w in range(workers) for i in range(RUNS * BATCHES))
        assert steps == expected, "every worker's points on the shared run must be stored"
        assert store.runs.get(shared).metrics["shared"] == float(max(expected)), "the highest step must win"
        for w in range(workers):
            assert len(store.runs.metric_history(shared, f"w{w}")) == RUNS * BATCHES


def open_and_register(barrier: Barrier, results: Any, url: str, worker: int) -> None:
    """Open a store nobody has created yet, all at once, and register a version."""
    try:
        barrier.wait(timeout=60)
        with open_meta(url) as store:
            results.put(store.models.create_version("m", actor=f"w{worker}").version)
    except BaseException as exc:
        results.put(f"worker {worker}: {exc!r}")
        raise


def test_concurrent_first_open_creates_the_schema_once(backend_url: str) -> None:
    workers = 4
    versions = _run_workers(open_and_register, [(backend_url, w) for w in range(workers)])
    assert sorted(versions) == list(range(1, workers + 1))
    with open_meta(backend_url) as store:
        current, head = schema_status(store.engine)
        assert current == head
        assert len(store.audit.list(entity_kind="model_version")) == workers
