"""Every metadata store check, on SQLite and on PostgreSQL; and proof that the checks catch broken stores."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ctml.meta import ANY_REVISION, MetaStore, open_meta
from ctml.testing.meta import (
    META_STORE_CHECKS,
    MetaStoreFactory,
    check_alias_compare_and_set,
    check_alias_history_and_removal,
    check_events,
    check_fresh_store_is_empty,
    check_meta_store,
    check_metric_history_and_latest,
    check_params_are_write_once,
    check_search_filters,
)


@pytest.mark.parametrize("check", META_STORE_CHECKS, ids=lambda check: check.__name__)
def test_conformance(check: Callable[[MetaStoreFactory], None], store_factory: MetaStoreFactory) -> None:
    check(store_factory)


def test_checks_are_listed_once_and_exported() -> None:
    import ctml.testing.meta as suite

    names = [check.__name__ for check in META_STORE_CHECKS]
    assert len(names) == len(set(names))
    defined = {name for name in dir(suite) if name.startswith("check_") and name != "check_meta_store"}
    assert set(names) == defined
    assert set(names) <= set(suite.__all__)


# --- the suite must fail on stores that misbehave -----------------------------------------------------------


def _broken(tmp_path: Path, breaks: Callable[[MetaStore], None]) -> MetaStoreFactory:
    names = itertools.count()

    def factory() -> MetaStore:
        store = open_meta(f"sqlite:///{tmp_path / f'broken-{next(names)}.db'}")
        breaks(store)
        return store

    return factory


def _not_empty(store: MetaStore) -> None:
    store.runs.create("left over")


def _events_not_idempotent(store: MetaStore) -> None:
    append = store.events.append

    def always_new(*args: Any, **kwargs: Any) -> bool:
        append(*args, **kwargs)
        return True

    store.events.append = always_new  # type: ignore[method-assign]


def _cas_ignored(store: MetaStore) -> None:
    set_alias = store.models.set_alias

    def blind(*args: Any, **kwargs: Any) -> Any:
        kwargs["expected_revision"] = ANY_REVISION
        return set_alias(*args, **kwargs)

    store.models.set_alias = blind  # type: ignore[method-assign]


def _history_oldest_first(store: MetaStore) -> None:
    history = store.models.alias_history
    store.models.alias_history = lambda *a, **k: list(reversed(history(*a, **k)))  # type: ignore[method-assign]


def _latest_is_last_logged(store: MetaStore) -> None:
    get = store.runs.get

    def last_logged(run_id: str) -> Any:
        run = get(run_id)
        for key in run.metrics:
            run.metrics[key] = max(store.runs.metric_history(run_id, key), key=lambda p: p.at).value
        return run

    store.runs.get = last_logged  # type: ignore[method-assign]


def _params_overwritten(store: MetaStore) -> None:
    log = store.runs.log

    def forgiving(run_id: str, **kwargs: Any) -> None:
        try:
            log(run_id, **kwargs)
        except Exception:
            kwargs.pop("params", None)
            log(run_id, **kwargs)

    store.runs.log = forgiving  # type: ignore[method-assign]


def _search_ignores_app(store: MetaStore) -> None:
    search = store.runs.search
    store.runs.search = lambda text="", app=None, **k: search(text, **k)  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("check", "breaks", "message"),
    [
        (check_fresh_store_is_empty, _not_empty, "must return an empty store"),
        (check_events, _events_not_idempotent, "idempotent"),
        (check_alias_compare_and_set, _cas_ignored, "should raise ConflictError"),
        (check_alias_history_and_removal, _history_oldest_first, "alias_history"),
        (check_metric_history_and_latest, _latest_is_last_logged, "highest step wins"),
        (check_params_are_write_once, _params_overwritten, "should raise ConflictError"),
        (check_search_filters, _search_ignores_app, "search("),
    ],
    ids=lambda value: getattr(value, "__name__", None) or "message",
)
def test_checks_catch_a_broken_store(
    check: Callable[[MetaStoreFactory], None], breaks: Callable[[MetaStore], None], message: str, tmp_path: Path
) -> None:
    with pytest.raises(AssertionError, match=message.replace("(", r"\(")):
        check(_broken(tmp_path, breaks))


def test_check_meta_store_names_the_failing_check(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as raised:
        check_meta_store(_broken(tmp_path, _events_not_idempotent))
    assert "in metadata store check check_events" in raised.value.__notes__


def test_check_meta_store_runs_every_check(tmp_path: Path) -> None:
    opened: list[MetaStore] = []
    names = itertools.count()

    def factory() -> MetaStore:
        opened.append(open_meta(f"sqlite:///{tmp_path / f'all-{next(names)}.db'}"))
        return opened[-1]

    check_meta_store(factory)
    assert len(opened) >= len(META_STORE_CHECKS)
