"""Checks of model versions, aliases and their history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.meta import ANY_REVISION
from ctml.testing._assertions import expect as _expect
from ctml.testing._assertions import raises as _raises
from ctml.testing.meta._expect import (
    DIGEST_A,
    MetaStoreFactory,
    _expect_chain,
    _expect_fields,
    _same_ms,
)

# --- models and aliases ------------------------------------------------------------------------------------


def check_model_versions(factory: MetaStoreFactory) -> None:
    """Versions are numbered 1..n per model, read back by number, listed newest first; each is audited."""
    with factory() as store:
        run_id = store.runs.create("train")
        first = store.models.create_version(
            "churn",
            app="churn-app",
            run_id=run_id,
            artifact_digest=DIGEST_A,
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
            artifact_digest=DIGEST_A,
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
