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

from collections.abc import Callable, Sequence

from ctml.testing.meta._expect import MetaStoreFactory
from ctml.testing.meta._graph import (
    check_datasets,
    check_lineage_walks,
    check_model_version_lineage,
)
from ctml.testing.meta._journal import (
    check_apps,
    check_decisions_and_audit,
    check_events,
)
from ctml.testing.meta._models import (
    check_alias_compare_and_set,
    check_alias_history_and_removal,
    check_model_versions,
    check_previous_version,
    check_version_numbers_under_threads,
)
from ctml.testing.meta._runs import (
    check_artifact_refs,
    check_fresh_store_is_empty,
    check_metric_history_and_latest,
    check_non_finite_metrics_refused,
    check_params_are_write_once,
    check_run_lifecycle,
    check_search_filters,
    check_search_order_and_pages,
    check_search_refuses_bad_input,
    check_steps,
)

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
