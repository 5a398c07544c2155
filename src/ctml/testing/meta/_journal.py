"""Checks of events, decisions, the audit log and apps."""

from __future__ import annotations

from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.testing._assertions import expect as _expect
from ctml.testing._assertions import raises as _raises
from ctml.testing.meta._expect import (
    MetaStoreFactory,
    _expect_fields,
)

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
